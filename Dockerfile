# ganforge serve in a container: builds the TypeScript and the browser client, then runs the compiled server on plain
# node as the unprivileged `node` user, with the bundled models/ baked in at /models.
#
#   docker build -t ganforge .
#   docker run --rm -p 8080:8080 --stop-timeout 20 ganforge
#   docker run --rm -p 8080:8080 -v "$PWD/models:/models:ro" ganforge     # serve your own exports instead
#
# CUDA (opt-in, GPU hosts only): --build-arg ONNXRUNTIME_NODE_INSTALL=cuda12 fetches onnxruntime-node's CUDA provider
# at build time; the runtime still needs CUDA 12 + cuDNN 9 libraries and `docker run --gpus all` (see the README).
# Built and run without Docker on a machine with no daemon and no Docker Hub: buildah (Debian's package), with the
# base image made locally by deploy/buildah-local-base.sh; /healthz, /generate, /web/* and a clean SIGTERM checked.
#   buildah --storage-driver vfs bud --isolation chroot --pull=never --format docker -t ganforge .

FROM node:20-bookworm-slim AS build
WORKDIR /app
# Dependencies first, so that a source change reuses this layer. Scripts stay off: the package's own `prepare` is the
# build, which needs the sources; tfjs-node's download of libtensorflow is for training, never for serving; and the
# package.json's allowScripts denies onnxruntime-node's CUDA fetch anyway (the CPU provider ships inside the package).
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
ARG ONNXRUNTIME_NODE_INSTALL=skip
RUN if [ "$ONNXRUNTIME_NODE_INSTALL" != skip ]; then ONNXRUNTIME_NODE_INSTALL="$ONNXRUNTIME_NODE_INSTALL" node node_modules/onnxruntime-node/script/install.js; fi
COPY tsconfig.json tsconfig.build.json ./
COPY scripts ./scripts
COPY common ./common
COPY train ./train
COPY export ./export
COPY eval ./eval
COPY runtime ./runtime
COPY serve ./serve
COPY cli ./cli
COPY web ./web
# dist/ runs on plain node (the inference workers load .js there, not tsx), so dev dependencies (tsx, typescript,
# esbuild, eslint) go; optional ones are tfjs-node's tree, which serving never loads. onnxruntime-node ships macOS and
# Windows binaries too (~220 MB) that a Linux image never loads.
RUN npm run build \
  && npm prune --omit=dev --omit=optional --no-audit --no-fund \
  && rm -rf node_modules/onnxruntime-node/bin/napi-v6/darwin node_modules/onnxruntime-node/bin/napi-v6/win32

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
# package.json marks dist/ as ES modules.
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/web/dist ./web/dist
COPY models /models
USER node
EXPOSE 8080
# Liveness only; readiness (warmed-up workers, not shutting down) is GET /readyz, for the load balancer. No curl in the
# slim image, so node's fetch does the request. Port 8080 as in CMD: change both together.
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:8080/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Exec form: node is PID 1 and gets the SIGTERM of `docker stop` itself (a shell would not pass it on), answers what
# it accepted and exits 0. Give it longer than its own 10 s drain limit before the SIGKILL: --stop-timeout 20.
CMD ["node", "dist/cli/main.js", "serve", "--models", "/models", "--host", "0.0.0.0"]
