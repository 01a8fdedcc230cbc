// Serves the browser client built by scripts/build-web.mjs: the demo page at / and the static files under /web/. Every
// response is cross-origin isolated (COOP + COEP) so onnxruntime-web may use wasm threads, and the .wasm/.mjs files
// come from here, never a CDN, so the page keeps working offline once loaded.

import { existsSync } from 'node:fs';
import type { RequestListener } from 'node:http';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { GanforgeError } from '../common/errors.ts';
import { toHttpError } from './http-errors.ts';

export interface WebAssetsOptions {
  /** Folder holding the built client (index.html, ganforge.js, ort/). Default: web/dist of this package. */
  distDir?: string;
}

/** The build command, named in errors when the client has not been built. */
export const BUILD_WEB_COMMAND = 'node scripts/build-web.mjs';

const IMMUTABLE = 'public, max-age=31536000, immutable';

/** Sets the headers that make a page cross-origin isolated; needed on the page and on its workers' scripts. */
export function setCrossOriginIsolation(res: Response): void {
  res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
  res.setHeader('Cross-Origin-Embedder-Policy', 'require-corp');
}

/** GET / → the demo page; GET /web/* → the built client. Mount before the API's not-found handler. */
export function webAssetsRouter(options: WebAssetsOptions = {}): Router {
  const distDir = resolve(options.distDir ?? findDistDir());
  const router = express.Router();

  // Only the page and its assets: the API's responses stay embeddable by other sites (<img src=".../generate">).
  const isolate = (_req: Request, res: Response, next: NextFunction) => {
    setCrossOriginIsolation(res);
    next();
  };

  // Answered here rather than passed on: the router may be mounted outside the API app and its error handler.
  const requireBuilt = (_req: Request, res: Response, next: NextFunction) => {
    if (!existsSync(join(distDir, 'ganforge.js'))) {
      const { status, body } = toHttpError(new GanforgeError('NOT_FOUND', `the browser client is not built (no ganforge.js in ${distDir}); run '${BUILD_WEB_COMMAND}'`));
      res.status(status).json(body);
      return;
    }
    next();
  };

  router.get(['/', '/index.html'], isolate, requireBuilt, (_req: Request, res: Response, next: NextFunction) => {
    res.setHeader('Cache-Control', 'no-cache');
    res.sendFile(join(distDir, 'index.html'), (error?: Error) => {
      if (error !== undefined) next(error);
    });
  });

  router.use(
    '/web',
    isolate,
    requireBuilt,
    express.static(distDir, {
      index: false,
      dotfiles: 'ignore',
      fallthrough: true,
      setHeaders: (res, path) => {
        // Explicit types: a module or wasm served with another type is refused by the browser.
        if (path.endsWith('.wasm')) res.setHeader('Content-Type', 'application/wasm');
        else if (path.endsWith('.mjs') || path.endsWith('.js')) res.setHeader('Content-Type', 'text/javascript; charset=utf-8');
        else if (path.endsWith('.map')) res.setHeader('Content-Type', 'application/json; charset=utf-8');
        // Chunk names carry a content hash; the rest keep stable names and are revalidated by ETag.
        res.setHeader('Cache-Control', relative(distDir, path).split(sep)[0] === 'chunks' ? IMMUTABLE : 'no-cache');
      },
    }),
  );

  return router;
}

/**
 * The client router as a complete request listener for serve/app.ts's `client` option: a path under /web/ with no file
 * behind it, or any failure, is answered here as the API's JSON error.
 */
export function webClient(options: WebAssetsOptions = {}): RequestListener {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', 'strong');
  app.use(webAssetsRouter(options));
  app.use((req: Request) => {
    throw new GanforgeError('NOT_FOUND', `no file ${req.path} in the browser client`);
  });
  app.use((error: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) {
      next(error);
      return;
    }
    const { status, body } = toHttpError(error);
    res.status(status).json(body);
  });
  return app;
}

/** web/dist next to this file's package, from the source tree (serve/) or the compiled one (dist/serve/). */
function findDistDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [resolve(here, '..', 'web', 'dist'), resolve(here, '..', '..', 'web', 'dist')];
  return candidates.find((dir) => existsSync(join(dir, 'ganforge.js'))) ?? candidates[0]!;
}
