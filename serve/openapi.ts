// The OpenAPI 3.1 document served at /openapi.json. Built from the constants the app itself uses (route list, /generate
// parameters, error-code → status map, limits), so the description cannot drift from what the server does; a test
// checks that every route in serve/app.ts ROUTES is described and that the README's API section names them all.

import type { ErrorCode } from '../common/errors.ts';
import { OUTPUT_FORMATS, type GenerateLimits } from '../common/generate-params.ts';
import { MAX_SEED } from '../common/random.ts';
import { MIN_TRUNCATION, TRUNCATION_MODES } from '../common/truncation.ts';
import { STATUS_BY_CODE } from './http-errors.ts';
import { EXPOSED_HEADERS, GENERATE_PARAMETERS, ROUTES } from './routes.ts';

export interface OpenApiOptions {
  limits: GenerateLimits;
  maxQueryBytes: number;
  /** ganforge version (info.version). */
  version: string;
  /** Whether CORS headers are sent (described in info). */
  cors: boolean;
}

type Json = Record<string, unknown>;

/** Every code the API can answer with, and its status. */
export function httpErrorCodes(): { code: ErrorCode; status: number }[] {
  return [...Object.entries(STATUS_BY_CODE).map(([code, status]) => ({ code: code as ErrorCode, status: status })), { code: 'INTERNAL', status: 500 }];
}

/** Route 'GET /models/:name.onnx' → OpenAPI path '/models/{name}.onnx'. */
export function openApiPath(route: string): string {
  return route.replace(/^[A-Z]+ /, '').replace(/:([A-Za-z_]+)/g, '{$1}');
}

const errorResponse = (codes: ErrorCode[], why: string): Json => ({
  description: `${why} Codes: ${codes.join(', ')}.`,
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' }, example: { error: codes[0], message: '...' } } },
});

export function buildOpenApi(options: OpenApiOptions): Json {
  const codes = httpErrorCodes();
  const byStatus = (status: number) => codes.filter((c) => c.status === status).map((c) => c.code);
  // The errors every route can give: a query string over the limit, another method or a request body are refused
  // before the route runs; a bug is a 500.
  const common: Json = {
    400: errorResponse(byStatus(400), `Invalid parameter, or a query string longer than ${options.maxQueryBytes} bytes.`),
    405: { ...errorResponse(byStatus(405), 'Only GET and HEAD are answered.'), headers: { Allow: { schema: { type: 'string' } } } },
    413: errorResponse(byStatus(413), 'The request carried a body; every route reads only its URL.'),
    500: errorResponse(byStatus(500), 'A bug; the body never carries details, the server log does.'),
  };
  const parameterSchemas: Record<(typeof GENERATE_PARAMETERS)[number], { schema: Json; description: string }> = {
    model: { schema: { type: 'string', pattern: '^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$' }, description: "Served model name (GET /models). Default: 'default', else the first by name." },
    n: { schema: { type: 'integer', minimum: 1, maximum: options.limits.maxImages, default: 1 }, description: 'Number of images; PNG tiles them in a grid.' },
    seed: { schema: { type: 'integer', minimum: 0, maximum: MAX_SEED }, description: 'Seed of image 0 (image k uses stream k). Given: the response is cacheable (ETag). Absent: drawn at random, reported in X-Ganforge-Seed, no-store.' },
    class: { schema: { oneOf: [{ type: 'integer', minimum: 0 }, { type: 'string' }] }, description: 'Conditional models only: class index or name (case-insensitive). Default: image k gets class k mod C.' },
    truncation: {
      schema: { type: 'number', minimum: 0, maximum: 1, default: 1 },
      description: `1 = no truncation. What it means is the model's truncation.kind in GET /models: 'latent' (≥ ${MIN_TRUNCATION}) the z-space trick in truncationMode; 'temperature' (a VAE decoder) T with z ~ N(0, T²·I), 0 allowed (z = 0); 'w-space' ψ toward the mean w, 0 allowed.`,
    },
    truncationMode: { schema: { type: 'string', enum: [...TRUNCATION_MODES], default: 'psi' }, description: 'How truncation is applied to the latents (models list theirs in GET /models).' },
    mixSeed: {
      schema: { type: 'integer', minimum: 0, maximum: MAX_SEED },
      description: "Style-mixing models only (styleMixing in GET /models): the synthesis layers from mixFrom on take the style of this seed's latents (image k: stream k), truncated by the same ψ.",
    },
    mixFrom: {
      schema: { type: 'integer', minimum: 0 },
      description: 'With mixSeed: the first synthesis layer that takes its style, in [0, styleMixing.layers] (0: all, layers: none). Default: styleMixing.defaultMixFrom (coarse layers from seed, fine from mixSeed).',
    },
    format: { schema: { type: 'string', enum: [...OUTPUT_FORMATS], default: 'png' }, description: 'png: image or grid; json: values and shape; npy: float32 NumPy array [n, H, W, C].' },
  };
  const imageHeaders: Json = {
    'X-Ganforge-Model': { schema: { type: 'string' }, description: 'Model that answered.' },
    'X-Ganforge-Seed': { schema: { type: 'integer' }, description: 'Seed used (drawn when not given).' },
    ETag: { schema: { type: 'string' }, description: 'Seeded requests only: sha256 of model version + normalized parameters + format.' },
    'Cache-Control': { schema: { type: 'string', enum: ['no-cache', 'no-store'] }, description: 'no-cache (revalidate) when seeded, no-store otherwise.' },
  };
  const operations: Record<(typeof ROUTES)[number], Json> = {
    'GET /generate': {
      summary: 'Generate images',
      parameters: GENERATE_PARAMETERS.map((name) => ({ name, in: 'query', required: false, ...parameterSchemas[name] })),
      responses: {
        200: {
          description: 'Generated images.',
          headers: imageHeaders,
          content: { 'image/png': { schema: { type: 'string', contentMediaType: 'image/png' } }, 'application/json': { schema: { $ref: '#/components/schemas/Images' } }, 'application/octet-stream': { schema: { type: 'string', contentMediaType: 'application/octet-stream' } } },
        },
        304: { description: 'Seeded request whose If-None-Match matches the ETag; no inference ran.' },
        ...common,
        404: errorResponse(['UNKNOWN_MODEL'], 'No served model has that name, or none is loaded.'),
        503: { ...errorResponse(byStatus(503), 'Queue full, shutting down, or the inference worker running the request crashed (it is being replaced); retry after Retry-After seconds.'), headers: { 'Retry-After': { schema: { type: 'integer' } } } },
        504: errorResponse(byStatus(504), 'The generator did not answer in time.'),
      },
    },
    'GET /models': { summary: 'List served models with their manifests', responses: { 200: { description: 'Models.', content: { 'application/json': { schema: { type: 'object' } } } }, ...common } },
    'GET /models/:name.onnx': {
      summary: 'Download a served model (what onnxruntime-web runs in the page)',
      parameters: [{ name: 'name', in: 'path', required: true, schema: parameterSchemas.model.schema }],
      responses: {
        200: { description: 'The .onnx bytes; ETag is the sha256.', content: { 'application/octet-stream': { schema: { type: 'string', contentMediaType: 'application/octet-stream' } } } },
        304: { description: 'If-None-Match matches the model version.' },
        ...common,
        404: errorResponse(['UNKNOWN_MODEL'], 'No served model has that name.'),
      },
    },
    'GET /healthz': { summary: 'Liveness: the process answers', responses: { 200: { description: 'Alive, with models, providers and worker stats.', content: { 'application/json': { schema: { type: 'object' } } } }, ...common } },
    'GET /readyz': {
      summary: 'Readiness: models loaded and warmed up in at least one worker, not shutting down',
      responses: { 200: { description: 'Ready.', content: { 'application/json': { schema: { $ref: '#/components/schemas/Readiness' } } } }, 503: { description: 'Not ready; reasons listed.', content: { 'application/json': { schema: { $ref: '#/components/schemas/Readiness' } } } }, ...common },
    },
    'GET /metrics': { summary: 'Prometheus metrics', responses: { 200: { description: 'Text exposition format 0.0.4.', content: { 'text/plain': { schema: { type: 'string' } } } }, ...common } },
    'GET /openapi.json': { summary: 'This document', responses: { 200: { description: 'OpenAPI 3.1.', content: { 'application/json': { schema: { type: 'object' } } } }, ...common } },
  };
  const paths: Record<string, Json> = {};
  for (const route of ROUTES) {
    const method = route.split(' ')[0]!.toLowerCase();
    paths[openApiPath(route)] = { ...paths[openApiPath(route)], [method]: { operationId: operationId(route), ...operations[route] } };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'ganforge',
      version: options.version,
      description:
        `Generate images with exported GAN generators. Errors are JSON {error, message, parameter?}; unknown routes are 404 NOT_FOUND. ` +
        (options.cors ? `CORS is on; readable headers: ${EXPOSED_HEADERS.join(', ')}.` : 'CORS is off: same-origin only.'),
    },
    paths,
    components: {
      schemas: {
        Error: {
          type: 'object',
          required: ['error', 'message'],
          properties: {
            error: { type: 'string', enum: codes.map((c) => c.code), description: `Stable code. Statuses: ${codes.map((c) => `${c.code} ${c.status}`).join(', ')}.` },
            message: { type: 'string', description: 'Names the parameter, what was given and what is allowed; never a stack trace or a path.' },
            parameter: { type: 'string', description: 'The offending parameter, when there is one.' },
          },
        },
        Images: {
          type: 'object',
          required: ['model', 'seed', 'shape', 'range', 'labels', 'data'],
          properties: {
            model: { type: 'string' },
            seed: { type: 'integer' },
            shape: { type: 'array', items: { type: 'integer' }, description: '[n, H, W, C]' },
            range: { type: 'array', items: { type: 'number' }, description: "The model's output value range." },
            labels: { type: ['array', 'null'], items: { type: 'integer' } },
            data: { type: 'array', items: { type: 'number' }, description: 'NHWC values, row-major.' },
          },
        },
        Readiness: {
          type: 'object',
          properties: { status: { type: 'string', enum: ['ready', 'not-ready'] }, reasons: { type: 'array', items: { type: 'string' } }, models: { type: 'array', items: { type: 'string' } }, workers: { type: 'object' } },
        },
      },
    },
  };
}

function operationId(route: string): string {
  const words = openApiPath(route).split(/[^A-Za-z]+/).filter((w) => w !== '');
  return `get${words.map((w) => w[0]!.toUpperCase() + w.slice(1)).join('')}`;
}
