// Runs the Express example: HEAP_WEBHOOK_SECRET=... npx ts-node examples/express-existing-app/server.ts
import { createShopApp } from './app';

const secret = process.env.HEAP_WEBHOOK_SECRET;
if (!secret) {
  console.error(
    'set HEAP_WEBHOOK_SECRET to the webhook secret from Heap (any string to try it locally)',
  );
  process.exit(2);
}
const port = Number(process.env.PORT ?? 3000);
const { app } = createShopApp({ webhookSecrets: [secret] });
app.listen(port, '127.0.0.1', () => {
  console.log(`listening on http://127.0.0.1:${port}; Heap webhooks on /heap/webhook`);
});
