# GPU worker: CUDA 11.8 + cuDNN 8 (what @tensorflow/tfjs-node-gpu 4.22 links against) with Node 20.
# Its install script downloads libtensorflow for the GPU: npm 10 (nodesource's Node 20) runs it as it installs,
# and npm 11 runs it because the root package.json's allowScripts approves it.
FROM nvidia/cuda:11.8.0-cudnn8-runtime-ubuntu22.04
ARG NODE_MAJOR=20
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl gnupg python3 build-essential \
 && curl -fsSL https://deb.nodesource.com/setup_${NODE_MAJOR}.x | bash - \
 && apt-get install -y --no-install-recommends nodejs \
 && rm -rf /var/lib/apt/lists/*
# The CUDA base image has no unprivileged user; this one has the uid of `node` in the service image, so both
# images can share the artifacts volume.
RUN groupadd --gid 1000 arcal && useradd --uid 1000 --gid 1000 --create-home --shell /usr/sbin/nologin arcal
WORKDIR /app
ENV NODE_ENV=production npm_config_fund=false npm_config_audit=false
COPY package.json package-lock.json .npmrc ./
COPY packages ./packages
COPY apps ./apps
COPY workers ./workers
COPY prisma ./prisma
COPY prisma.config.ts tsconfig.base.json tsconfig.json ./
RUN npm ci --include=dev \
 && npm install --no-save @tensorflow/tfjs-node-gpu@4.22.0 \
 && npm cache clean --force
RUN mkdir -p /var/lib/arcal/artifacts /var/cache/arcal && chown -R arcal:arcal /var/lib/arcal /var/cache/arcal
# tfjs-node-gpu registers itself as tfjs's `tensorflow` backend; arcal's name for it is tfjs-node-gpu.
ENV ARCAL_BACKEND=tfjs-node-gpu ARTIFACT_DIR=/var/lib/arcal/artifacts ARCAL_CACHE_DIR=/var/cache/arcal
USER arcal
# One compute process per GPU: set ARCAL_DEVICES (e.g. 0,1,2,3) or add --devices.
CMD ["node", "workers/bin/arcal-worker.js", "--queues", "attack,train,evaluate", "--concurrency", "1"]
