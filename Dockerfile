# One image for every durable-jobs process (workers, the HTTP service, the one-shots); the command picks the role.
# Two stages: `build` compiles the library, the example application and the workflow bundle with the whole toolchain;
# the final stage holds only what runs, as the non-root `node` user. test/dockerfile.test.ts checks these guarantees.
# Node 20, the project's engine (package.json "engines"); a later issue moves to a newer LTS.

FROM node:20-bookworm AS build
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

FROM node:20-bookworm-slim AS runtime
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
