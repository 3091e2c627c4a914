// Floor A, the HTTP ceiling: bare node:http that reads the body, verifies its Heap-Hash and parses it.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { verifyHeapHash } from '../src/webhook/signature';

const secret = process.env.WEBHOOK_SECRET ?? '';
if (!secret) throw new Error('floorHttp needs WEBHOOK_SECRET');

const server = http.createServer((req, res) => {
  const answer = (status: number, body: string) => {
    res.writeHead(status, { 'content-type': 'application/json' }).end(body);
  };
  // A lookup's floor: the request/response round trip alone.
  if (req.method === 'GET') {
    answer(200, '{"segments":[]}');
    return;
  }
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    const verified = verifyHeapHash({ header: req.headers['heap-hash'], body, secrets: [secret] });
    if (!verified.ok) {
      answer(403, JSON.stringify({ error: verified.reason }));
      return;
    }
    const parsed = JSON.parse(body.toString('utf8')) as { action_type?: string };
    answer(200, JSON.stringify({ status: 'applied', action_type: parsed.action_type }));
  });
});

server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`${JSON.stringify({ port, msg: 'listening' })}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
