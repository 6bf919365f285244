#!/bin/sh
# Build and start the key provider (same as docker compose up --build -d).
docker compose up --build -d
