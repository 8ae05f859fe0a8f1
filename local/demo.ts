import type { ServiceContext } from '../shared/services/context';

export const DEMO_SLUG = 'demo';

/**
 * Gives a fresh machine something to call: the `demo` customer and, when it has no active
 * key, one new key. The key is returned to be printed once; it is not stored anywhere.
 */
export async function seedDemo(services: ServiceContext): Promise<{ customerCreated: boolean; key: string | undefined }> {
  let customerCreated = false;
  if (!(await services.customers.get(DEMO_SLUG))) {
    await services.customers.create({ slug: DEMO_SLUG, name: 'Demo Customer', plan: 'starter' });
    customerCreated = true;
  }
  const keys = await services.keys.list(DEMO_SLUG);
  if (keys.some((k) => k.status === 'active')) return { customerCreated, key: undefined };
  const issued = await services.keys.issue(DEMO_SLUG, { label: 'demo', application: 'demo-app' }, 'local-host');
  return { customerCreated, key: issued.key };
}
