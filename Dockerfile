# syntax=docker/dockerfile:1
# A small image for platformsh-exporter: built in a Rust image, run from distroless (glibc and
# CA certificates, no shell) as a non-root user, with the store on a volume.
#
#   docker build --build-arg SOURCE_REVISION="$(git rev-parse --short=12 HEAD)" \
#     -t platformsh-exporter .
#   docker run -p 9887:9887 -v platformsh-exporter:/data platformsh-exporter
#
# Settings are PLATFORMSH_EXPORTER_… variables (-e) or flags after the image name.

FROM rust:1-bookworm AS build
# .dockerignore leaves .git out: the revision --version and build_info show comes from here.
ARG SOURCE_REVISION=unknown
WORKDIR /src
COPY . .
RUN SOURCE_REVISION="$SOURCE_REVISION" cargo build --profile dist --locked --bin platformsh-exporter \
 && mkdir -p /data

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/dist/platformsh-exporter /usr/local/bin/platformsh-exporter
# The volume's mount point, owned by the image's user (65532, "nonroot").
COPY --from=build --chown=65532:65532 /data /data
ENV PLATFORMSH_EXPORTER_STORAGE_PATH=/data/store.db
VOLUME ["/data"]
EXPOSE 9887
USER 65532:65532
HEALTHCHECK --interval=30s --timeout=6s --start-period=60s --retries=3 \
  CMD ["/usr/local/bin/platformsh-exporter", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/platformsh-exporter"]
