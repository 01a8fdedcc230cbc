// Error classes shared by trainer, exporter, server and browser. Every failure a user can cause carries a stable
// `code`; serve/http-errors.ts is the one place that maps codes to HTTP statuses.

/** Stable error codes. Add new ones at the end; clients match on these strings. */
export type ErrorCode =
  | 'INVALID_PARAMETER' // a request or option value is malformed or out of range
  | 'UNKNOWN_MODEL' // no served model has that name
  | 'UNKNOWN_FAMILY' // no GAN family has that name
  | 'UNKNOWN_DATASET' // no dataset has that name and no IDX file is at that path
  | 'INVALID_DATASET' // an IDX file is malformed
  | 'UNSUPPORTED_LAYER' // the exporter has no ONNX mapping for a layer class
  | 'PARITY_FAILED' // exported ONNX disagrees with the tfjs checkpoint
  | 'NAN_LOSS' // training diverged
  | 'INVALID_CHECKPOINT' // a run folder has no readable checkpoint
  | 'INVALID_MODEL' // an .onnx file is unreadable or lacks ganforge metadata
  | 'NOT_FOUND' // no such route or file
  | 'OVERLOADED' // the queue is full; retry later
  | 'TIMEOUT' // the request took longer than allowed
  | 'INTERNAL' // a bug: never shown with details
  | 'METHOD_NOT_ALLOWED' // the route exists but not for that HTTP method
  | 'PAYLOAD_TOO_LARGE' // a request carries a body the API never reads
  | 'HEADERS_TOO_LARGE' // the request line and headers exceed the HTTP parser's limit
  | 'REQUEST_TIMEOUT' // the client did not send its whole request in time
  | 'WORKER_CRASHED' // the inference worker running the request died; it is being replaced, so a retry can succeed
  | 'WRITE_FAILED'; // a checkpoint, pointer or export could not be written (disk full, read-only, no permission)

export class GanforgeError extends Error {
  readonly code: ErrorCode;
  /** The offending parameter or option, when there is one. */
  readonly parameter: string | undefined;

  constructor(code: ErrorCode, message: string, options: { parameter?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'GanforgeError';
    this.code = code;
    this.parameter = options.parameter;
  }

  toJSON(): { error: ErrorCode; message: string; parameter?: string } {
    return this.parameter === undefined
      ? { error: this.code, message: this.message }
      : { error: this.code, message: this.message, parameter: this.parameter };
  }
}

/** A request parameter or option that is present but wrong: names it, says what was given and what is allowed. */
export class InvalidParameterError extends GanforgeError {
  constructor(parameter: string, message: string) {
    super('INVALID_PARAMETER', message, { parameter });
    this.name = 'InvalidParameterError';
  }
}

/** Short, safe rendering of a user-supplied value for an error message (never echoes megabytes back). */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  let text: string;
  if (typeof value === 'string' || typeof value === 'object') text = JSON.stringify(value) ?? 'null';
  else if (typeof value === 'function') text = 'a function';
  else text = `${value as number | boolean | bigint}`;
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}
