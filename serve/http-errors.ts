// The one place that knows HTTP statuses for ganforge error codes. Everything else throws GanforgeError; the app's
// error handler turns it into a status and a JSON body here. Unknown errors are bugs: a generic 500 that leaks no
// message, stack or path (the full error goes to the server log instead).

import { STATUS_CODES } from 'node:http';
import { GanforgeError, type ErrorCode } from '../common/errors.ts';

export interface ErrorBody {
  error: ErrorCode;
  message: string;
  parameter?: string;
}

export interface HttpError {
  status: number;
  body: ErrorBody;
  /** True when the error is a bug or an unexpected failure that the server log should show in full. */
  internal: boolean;
}

/** Statuses of the codes the HTTP API can answer with (INTERNAL is always 500). */
export const STATUS_BY_CODE: Readonly<Partial<Record<ErrorCode, number>>> = Object.freeze({
  INVALID_PARAMETER: 400,
  UNKNOWN_MODEL: 404,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  PAYLOAD_TOO_LARGE: 413,
  HEADERS_TOO_LARGE: 431,
  REQUEST_TIMEOUT: 408,
  OVERLOADED: 503,
  WORKER_CRASHED: 503,
  TIMEOUT: 504,
});

export const INTERNAL_MESSAGE = 'internal server error; the server log has the details';

export function toHttpError(error: unknown): HttpError {
  if (error instanceof GanforgeError) {
    const status = STATUS_BY_CODE[error.code];
    if (status !== undefined) return { status, body: error.toJSON(), internal: false };
    return { status: 500, body: { error: 'INTERNAL', message: INTERNAL_MESSAGE }, internal: true };
  }
  // Errors raised by express itself for malformed requests (an undecodable %-escape in the path is a URIError with
  // status 400) carry a 4xx status; their message is shown only when it was written to be (expose) or is a URIError.
  const e = error as { status?: unknown; expose?: unknown; message?: unknown } | null;
  if (e !== null && typeof e === 'object' && typeof e.status === 'number' && e.status >= 400 && e.status < 500) {
    const shown = (e.expose === true || error instanceof URIError) && typeof e.message === 'string' ? `: ${e.message.slice(0, 200)}` : '';
    return { status: 400, body: { error: 'INVALID_PARAMETER', message: `malformed request${shown}` }, internal: false };
  }
  return { status: 500, body: { error: 'INTERNAL', message: INTERNAL_MESSAGE }, internal: true };
}

/**
 * What to answer a request Node's HTTP parser refused before the app saw it (server 'clientError': a header block
 * over the size limit, a request that was not sent in time, bytes that are not HTTP), so that these too get the API's
 * JSON error body instead of Node's bare status line. null when nothing should be written (the peer reset the socket).
 */
export function parserRefusal(error: { code?: unknown }): HttpError | null {
  const refusal = (status: number, code: ErrorCode, message: string): HttpError => ({ status, body: { error: code, message }, internal: false });
  switch (error.code) {
    case 'ECONNRESET': return null;
    case 'HPE_HEADER_OVERFLOW': return refusal(431, 'HEADERS_TOO_LARGE', 'the request line and headers exceed the 16 KiB the server parses');
    case 'ERR_HTTP_REQUEST_TIMEOUT': return refusal(408, 'REQUEST_TIMEOUT', 'the request was not received in time; send the request line and headers promptly');
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW': return refusal(413, 'PAYLOAD_TOO_LARGE', 'a chunk extension exceeds the parser\'s limit; the API takes no request bodies');
    default: return refusal(400, 'INVALID_PARAMETER', 'malformed HTTP request: the server could not parse it as HTTP/1.1');
  }
}

/** The raw bytes of an HTTP/1.1 response for `refusal`, written straight to a socket that has no response object. */
export function rawErrorResponse(refusal: HttpError): string {
  const body = JSON.stringify(refusal.body);
  return `HTTP/1.1 ${refusal.status} ${STATUS_CODES[refusal.status] ?? 'Error'}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
}
