// The generated webhook validator (webhookRequestValidator.ts) is exactly what the spec compiles to today.
import { readFileSync } from 'node:fs';
import { validateWebhookRequest } from '../../src/webhook/payload';
import {
  compileSpecSchema,
  WEBHOOK_VALIDATOR_FILE,
  webhookValidatorSource,
} from '../../src/webhook/specSchema';

describe('the generated webhook validator', () => {
  it('matches webhook_spec.yaml (run `npm run generate:validator` after changing the spec)', () => {
    expect(readFileSync(WEBHOOK_VALIDATOR_FILE, 'utf8')).toBe(webhookValidatorSource());
  });

  it('answers and reports errors as the validator compiled from the spec at run time does', () => {
    const compiled = compileSpecSchema({ $ref: '#/components/schemas/WebhookRequest' });
    const sync = (data: unknown) => ({ action_type: 'segment.users.sync', data });
    const bodies: unknown[] = [
      sync({
        segment: { id: 1, name: 's' },
        add: [{ id: 'a' }],
        remove: [],
        sync_info: { page_number: 1, total_pages: 1, sync_task_id: 't' },
      }),
      sync({ segment: { id: 1.5 } }),
      sync({ segment: { id: 'x1' }, add: [{ id: 'a\u0000b' }] }),
      { action_type: 'segment.users.drain', data: {} },
      { action_type: 'some.future.action', anything: [1, 2] },
      { data: {} },
      [],
      'text',
    ];
    for (const body of bodies) {
      const generatedAnswer = validateWebhookRequest(body);
      expect(generatedAnswer).toBe(compiled(body));
      const strip = (errors: typeof compiled.errors) =>
        (errors ?? []).map((e) => [e.keyword, e.instancePath, e.schemaPath, e.message]);
      expect(strip(validateWebhookRequest.errors)).toEqual(strip(compiled.errors));
    }
    // The bodies above reach both answers.
    expect(bodies.map((body) => validateWebhookRequest(body))).toContain(true);
    expect(bodies.map((body) => validateWebhookRequest(body))).toContain(false);
  });
});
