import type { ServiceContext } from '../app/context';
import type { Operation } from '../shared/domain';

const LOCAL_HOST: Operation = { actor: { type: 'system', id: 'local-host', name: 'local host (npm start)' }, requestId: 'local-start' };

export const DEMO_SLUG = 'demo';

/**
 * Gives a fresh machine something to call: the `demo` customer and, when it has no active
 * key, one new key. The key is returned to be printed once; it is not stored anywhere.
 */
export async function seedDemo(services: ServiceContext): Promise<{ customerCreated: boolean; key: string | undefined }> {
  let customerCreated = false;
  if (!(await services.useCases.customers.get(DEMO_SLUG))) {
    await services.useCases.customers.create({ slug: DEMO_SLUG, name: 'Demo Customer', plan: 'starter' });
    customerCreated = true;
  }
  const keys = await services.useCases.keys.list(DEMO_SLUG);
  if (keys.some((k) => k.status === 'active')) return { customerCreated, key: undefined };
  const issued = await services.useCases.keys.issue(DEMO_SLUG, { label: 'demo', application: 'demo-app' }, LOCAL_HOST);
  return { customerCreated, key: issued.key };
}
