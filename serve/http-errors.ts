// The one place that knows HTTP statuses for ganforge error codes. Everything else throws GanforgeError; the app's
// error handler turns it into a status and a JSON body here. Unknown errors are bugs: a generic 500 that leaks no
// message, stack or path (the full error goes to the server log instead).

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
