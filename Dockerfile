# syntax=docker/dockerfile:1
# Verdict image: Node.js 24 runs the TypeScript sources directly (type stripping),
# so the build stage only type-checks; the runtime stage has production dependencies only.

FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY bin ./bin
COPY src ./src
COPY proto ./proto
COPY sql ./sql
COPY bench ./bench
COPY test ./test
COPY examples ./examples
# The stack tests read the Dockerfile through scripts/dockerfile.ts.
COPY scripts ./scripts
RUN npx tsc --noEmit

FROM node:24-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# --omit=optional: the image has its own Node.js; the pinned one in optionalDependencies is for development machines.
RUN npm ci --omit=dev --omit=optional --no-audit --no-fund

FROM node:24-bookworm-slim
# Fixed glibc malloc thresholds: request chunks freed after an attack go back to the
# system instead of staying in malloc's arenas (docs/operations.md, "Limits").
ENV NODE_ENV=production \
    VERDICT_HOST=0.0.0.0 \
    VERDICT_DATA_DIR=/data \
    MALLOC_MMAP_THRESHOLD_=65536 \
    MALLOC_TRIM_THRESHOLD_=131072
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY --from=build /app/bin ./bin
COPY --from=build /app/src ./src
COPY proto ./proto
COPY sql ./sql
# The embedded database (used when DATABASE_URL is unset) keeps its files here, and its wire port's password
# (/data/pg-password). That port (5433) listens on the container's loopback only and is not exposed: to reach it,
# set VERDICT_PG_HOST=0.0.0.0 and publish it yourself (docs/operations.md, "Security").
RUN mkdir -p /data && chown node:node /data
VOLUME /data
USER node
EXPOSE 4317 4318
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:4318/readyz').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# --max-semi-space-size and --no-wasm-code-gc: see src/runtime.ts.
ENTRYPOINT ["node", "--max-semi-space-size=4", "--no-wasm-code-gc", "bin/verdict.js"]
CMD ["serve"]
