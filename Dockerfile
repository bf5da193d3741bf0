# One image for both processes; docker-compose.yml picks the entry point.
FROM node:24-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
COPY prisma ./prisma
COPY src/shared/database/tools ./src/shared/database/tools
RUN npm ci --omit=dev --ignore-scripts && node src/shared/database/tools/generate-clients.ts
COPY src ./src
COPY views ./views
USER node
EXPOSE 3000 4000
CMD ["node", "--import", "./src/shared/observability/tracing.ts", "src/issuer/main.ts"]
