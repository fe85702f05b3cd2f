# API and CPU worker image (one image, the command picks the role). Build from the repository root.
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production npm_config_fund=false npm_config_audit=false
COPY package.json package-lock.json .npmrc ./
COPY packages ./packages
COPY apps ./apps
COPY workers ./workers
COPY prisma ./prisma
COPY prisma.config.ts tsconfig.base.json tsconfig.json ./
# The Prisma client is committed (packages/db/generated); migrations run through the wasm schema engine,
# so no engine download is needed at build or run time.
RUN npm ci --include=dev && npm cache clean --force
# The dashboard is built now, while /app is still writable: at run time the code belongs to root and the
# process runs as `node`, so nothing may build into apps/web/dist then (hence no `npm run start:api`, whose
# prestart hook does exactly that).
RUN npm run build:web
# The only places the process writes. A fresh named volume mounted on them takes this ownership (uid 1000).
RUN mkdir -p /var/lib/arcal/artifacts /var/cache/arcal && chown -R node:node /var/lib/arcal /var/cache/arcal
ENV ARTIFACT_DIR=/var/lib/arcal/artifacts ARCAL_CACHE_DIR=/var/cache/arcal
USER node
EXPOSE 3000
CMD ["node", "--import", "tsx", "apps/api/src/server.ts"]
