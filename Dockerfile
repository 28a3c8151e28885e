# Mailgate's image: Debian slim with Node 20, the built code and its production dependencies, run as the
# unprivileged user `mailgate` (the embedded Postgres refuses to run as root, and nothing here needs root).
#
#   docker build -t mailgate .
#   docker run -p 33610:33610 -v mailgate-data:/var/lib/mailgate/data mailgate   # embedded Postgres in the volume
#   docker compose up                                                            # with Postgres 18: compose.yaml
#
# The first start prints the first API key on the container's stdout (`docker logs`), once.

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY bin ./bin
COPY src ./src
COPY migrations ./migrations
# `npm ci` runs the install scripts (the Postgres binaries' symlinks) and `prepare`, which builds dist/.
RUN npm ci --no-audit --no-fund && npm prune --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=33610 \
    DATA_DIR=/var/lib/mailgate/data \
    MAILGATE_SYSTEM_DIR=/var/lib/mailgate/system
RUN groupadd --system mailgate \
 && useradd --system --gid mailgate --home-dir /var/lib/mailgate --shell /usr/sbin/nologin mailgate \
 && mkdir -p /var/lib/mailgate/data /var/lib/mailgate/system \
 && chown -R mailgate:mailgate /var/lib/mailgate \
 && chmod 0750 /var/lib/mailgate/data
WORKDIR /app
# What runs: the build, the migrations (their names are read from migrations/*.ts), package.json (the version).
COPY --from=build /app/package.json /app/package-lock.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/bin ./bin
COPY --from=build /app/migrations ./migrations
USER mailgate
# The embedded Postgres (when DATABASE_URL is unset) and embedded.json live here.
VOLUME ["/var/lib/mailgate/data"]
# HTTP (every dialect, /healthz) and the inbound bounce listener (BOUNCE_SMTP_PORT).
EXPOSE 33610 2525
HEALTHCHECK --interval=30s --timeout=5s --start-period=90s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 33610) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "bin/mailgate.js"]
CMD ["serve"]
