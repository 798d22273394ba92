# The service alone; Neo4j runs beside it (docker-compose.yml).
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -o /multicontact ./cmd/multicontact

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /multicontact /multicontact
EXPOSE 8080
ENTRYPOINT ["/multicontact", "serve"]
