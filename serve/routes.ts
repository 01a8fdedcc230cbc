// The API's surface as data: the app routes and validates with these, and /openapi.json describes them, so the two
// cannot drift apart.

/** Query parameters /generate takes (also the source of /openapi.json). */
export const GENERATE_PARAMETERS = ['model', 'n', 'seed', 'class', 'truncation', 'truncationMode', 'mixSeed', 'mixFrom', 'format'] as const;
/** Every route the API answers (also the source of /openapi.json and of the 404 message). */
export const ROUTES = ['GET /generate', 'GET /models', 'GET /models/:name.onnx', 'GET /healthz', 'GET /readyz', 'GET /metrics', 'GET /openapi.json'] as const;
export const DEFAULT_MAX_QUERY_BYTES = 2048;
/** Response headers a cross-origin page may read when CORS is on. */
export const EXPOSED_HEADERS = ['ETag', 'X-Request-Id', 'X-Ganforge-Model', 'X-Ganforge-Seed', 'Retry-After'] as const;
