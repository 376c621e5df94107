# tradestream: one static binary with the dashboard embedded.
# Build:  docker build -t tradestream .
# Run:    docker compose -f deploy/docker-compose.yml up
FROM node:20-bookworm-slim AS web
WORKDIR /src/web
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY web/ ./
RUN npm run build

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
COPY --from=web /src/internal/dashboard/dist ./internal/dashboard/dist
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/tradestream ./cmd/tradestream

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/tradestream /usr/local/bin/tradestream
EXPOSE 8080 9464
ENTRYPOINT ["/usr/local/bin/tradestream"]
CMD ["up"]
