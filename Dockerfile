# One image for every durable-jobs process (workers, the HTTP service, the one-shots); the command picks the role.
# Two stages: `build` compiles the library, the example application and the workflow bundle with the whole toolchain;
# the final stage holds only what runs, as the non-root `node` user. test/dockerfile.test.ts checks these guarantees,
# and .ci/dockerfile-check parses and lints this file as `docker build --check` does.

# Node 24, the active LTS (Node 20 reached its end of life on 2026-04-30), to the patch: CI runs the suite on this same
# version (.ci/node-lts; test/dockerfile.test.ts holds the two equal). Debian 13 (trixie) under it, Debian's stable
# release: bookworm has only long-term security support from June 2026. Both stages on the same Debian, so the native
# module compiled in the first links against the C library of the second.
ARG NODE_VERSION=24.22.3

FROM node:${NODE_VERSION}-trixie AS build
WORKDIR /app
# better-sqlite3's native module is compiled here (when no prebuilt binary fits): Python, make and a C++ compiler.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
# Dependencies only: the package's own `prepare` (its build) waits for the sources below.
RUN npm ci --no-audit --no-fund --ignore-scripts && npm rebuild
# The sources (.dockerignore keeps node_modules, earlier builds, tests and their recorded histories out).
COPY . .
# dist/: the library (CommonJS + .d.ts); build/: the example application, whose require('durable-jobs') resolves to dist/.
RUN npm run build && npm run build:app
# Workers load this bundle instead of bundling the workflows at every start (faster start, ~90 MB less per process).
RUN JOBS_APP=/app/build/app.js node bin/jobctl.js bundle --out /app/workflow-bundle.js
# Production dependencies only, the compiled better-sqlite3 among them: no TypeScript, tsx loader, vitest, eslint.
RUN npm prune --omit=dev --no-audit --no-fund

FROM node:${NODE_VERSION}-trixie-slim AS runtime
WORKDIR /app
ENV NODE_ENV=production \
    JOBS_APP=/app/build/app.js \
    JOBS_WORKFLOW_BUNDLE=/app/workflow-bundle.js
# The code stays root's (readable, not writable, by the process); only the data directory is the `node` user's.
COPY --from=build /app/package.json /app/package-lock.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/bin ./bin
COPY --from=build /app/build ./build
# A Temporal server started by jobctl (dev) reads it beside dist/ (src/dev-server.ts DYNAMIC_CONFIG_FILE).
COPY --from=build /app/docker/dynamicconfig.yaml ./docker/dynamicconfig.yaml
COPY --from=build /app/workflow-bundle.js ./workflow-bundle.js
# The default SQLite file (.data/app.sqlite) and mail outbox (.data/outbox), relative to /app (src/config.ts).
RUN mkdir -p /app/.data/outbox && chown -R node:node /app/.data
USER node
ENTRYPOINT ["node", "bin/jobctl.js"]
CMD ["worker"]
