# One image for every durable-jobs process (workers, and later the HTTP service); the command picks the role.
FROM node:20-bookworm-slim
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY . .
# Workers load this bundle instead of bundling the workflows at every start (faster start, ~90 MB less per process).
RUN node bin/jobctl.js bundle --out /app/workflow-bundle.js
ENV JOBS_WORKFLOW_BUNDLE=/app/workflow-bundle.js
ENTRYPOINT ["node", "bin/jobctl.js"]
CMD ["worker"]
