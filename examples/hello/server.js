// hello: the example app strata deploys. No dependencies, no build step.
// Listens on $HOST:$PORT (set by the strata agent), answers / with its version
// and the content of message.txt, /healthz with 200, and on SIGTERM stops
// accepting connections, finishes requests in flight and exits.
import { createServer } from "node:http";
import { readFileSync } from "node:fs";

const host = process.env.HOST ?? "127.0.0.1";
const port = Number(process.env.PORT ?? 8080);
const greeting = process.env.GREETING ?? "hello";
const version = process.env.STRATA_RELEASE_VERSION ?? "dev";
const message = readFileSync(new URL("./message.txt", import.meta.url), "utf8").trim();

const server = createServer((req, res) => {
  if (req.url === "/healthz") {
    res.writeHead(200, { "content-type": "text/plain" }).end("ok\n");
    return;
  }
  if (req.url === "/") {
    const body = { greeting, version, message, release: process.env.STRATA_RELEASE_ID ?? null };
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(body) + "\n");
    return;
  }
  res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
});

server.listen(port, host, () =>
  console.log(`hello ${version} listening on http://${host}:${port}`),
);

process.once("SIGTERM", () => {
  console.log("hello: SIGTERM, finishing requests in flight");
  server.close(() => process.exit(0));
  server.closeIdleConnections();
  // Keep-alive clients that never go idle must not hold the shutdown forever.
  setTimeout(() => process.exit(0), 8000).unref();
});
