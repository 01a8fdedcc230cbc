// Raw HTTP/1.1 over a TCP socket for the hostile-input tests: fetch and node:http normalize paths ('..', '%2e'),
// refuse odd characters and add headers of their own, which would hide exactly what those tests send.

import { connect, type Socket } from 'node:net';

export interface RawResponse {
  /** 0 when the server closed the connection without a status line. */
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  /** Everything the server sent, as received. */
  raw: Buffer;
}

/** Opens a connection to http://host:port. */
export function openSocket(base: string): Promise<Socket> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(url.port), url.hostname, () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Resolves with everything the server sends until it closes the connection (and whether it reset it). */
export function readUntilClosed(socket: Socket): Promise<{ data: Buffer; reset: boolean }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let reset = false;
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', () => { reset = true; });
    socket.on('close', () => resolve({ data: Buffer.concat(chunks), reset }));
  });
}

/** Parses the first response in `data` (status line, headers, the rest as body). */
export function parseResponse(data: Buffer): RawResponse {
  const end = data.indexOf('\r\n\r\n');
  if (end < 0) return { status: 0, headers: {}, body: Buffer.alloc(0), raw: data };
  const [statusLine, ...lines] = data.subarray(0, end).toString('latin1').split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine ?? '')?.[1] ?? 0);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  let body = data.subarray(end + 4);
  const length = headers['content-length'];
  if (length !== undefined) body = body.subarray(0, Number(length));
  return { status, headers, body, raw: data };
}

/** Sends `head` (request line and headers, without the blank line) plus an optional body on a new connection, with Connection: close. */
export async function rawRequest(base: string, head: string, body: Buffer | string = ''): Promise<RawResponse> {
  const socket = await openSocket(base);
  const closed = readUntilClosed(socket);
  // write, not end: a half-closed request looks like a client that went away to the static-file server (send).
  socket.write(Buffer.concat([Buffer.from(`${head}\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`, 'latin1'), Buffer.from(body)]));
  return parseResponse((await closed).data);
}

/** GET `target` exactly as given (no normalization, no encoding). */
export function rawGet(base: string, target: string, headers = ''): Promise<RawResponse> {
  return rawRequest(base, `GET ${target} HTTP/1.1${headers === '' ? '' : `\r\n${headers}`}`);
}
