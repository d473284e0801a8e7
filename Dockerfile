# ferroalloy container image: a release build in a Rust image, copied into a slim
# Debian runtime that holds only the binary, CA certificates and a non-root user.
#
#   docker build -t ferroalloy .
#   docker run -p 12345:12345 -v $PWD/config.alloy:/etc/alloy/config.alloy ferroalloy

FROM rust:1-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p ferroalloy \
 && strip target/release/ferroalloy \
 && mkdir -p /out/share/man/man1 /out/share/completions \
 && target/release/ferroalloy mangen --out-dir /out/share/man/man1 \
 && target/release/ferroalloy completion bash > /out/share/completions/ferroalloy.bash

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 473 --home-dir /var/lib/alloy alloy \
 && mkdir -p /etc/alloy /var/lib/alloy/data \
 && chown -R alloy:alloy /var/lib/alloy
COPY --from=build /src/target/release/ferroalloy /bin/ferroalloy
COPY --from=build /out/share/man/man1 /usr/share/man/man1
COPY --from=build /out/share/completions/ferroalloy.bash /usr/share/bash-completion/completions/ferroalloy
COPY deploy/config.alloy /etc/alloy/config.alloy
USER alloy
EXPOSE 12345
ENTRYPOINT ["/bin/ferroalloy"]
CMD ["run", "/etc/alloy/config.alloy", "--storage.path=/var/lib/alloy/data", "--server.http.listen-addr=0.0.0.0:12345"]
