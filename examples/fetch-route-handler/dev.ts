// Serves the route locally: HEAP_WEBHOOK_SECRET=... npx ts-node examples/fetch-route-handler/dev.ts
import { POST } from './route';
import { createRouteServer, ROUTE_PATH } from './serve';

const port = Number(process.env.PORT ?? 3000);
createRouteServer(POST).listen(port, '127.0.0.1', () => {
  console.log(`listening on http://127.0.0.1:${port}${ROUTE_PATH}`);
});
