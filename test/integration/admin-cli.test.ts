import { runAdmin } from '../../cli/admin';
import { hashSecret } from '../../shared/keys/compound-key';
import { trackSecret } from '../support/secrets';
import { serveApp } from '../support/http';
import { customerWithKey, testServices } from '../support/services';

describe('npm run admin (against Azurite, through the same services as the API)', () => {
  const services = testServices();
  const run = async (...argv: string[]) => {
    const lines: string[] = [];
    await runAdmin(argv, services, (line) => lines.push(line));
    return lines.join('\n');
  };
  const slug = `cli-${Date.now().toString(36)}`;

  it('creates a customer, issues a key once, lists it masked, revokes it', async () => {
    expect(await run('customer', 'create', '--slug', slug, '--name', 'CLI Co', '--plan', 'starter')).toMatch(
      new RegExp(`Created customer ${slug}`),
    );

    const issued = JSON.parse(
      await run('key', 'issue', '--customer', slug, '--label', 'deploy-bot', '--application', 'ci', '--environment', 'test', '--json'),
    );
    trackSecret(issued.key);
    expect(issued.key).toMatch(new RegExp(`^vp_cust_${slug}\\.[A-Za-z0-9]{32}\\.[A-Za-z0-9_-]{43}$`));
    expect(issued.metadata).toMatchObject({ label: 'deploy-bot', application: 'ci', environment: 'test', status: 'active' });
    expect(await services.authenticator.authenticate(hashSecret(issued.key.split('.').at(-1)))).toMatchObject({ keyLabel: 'deploy-bot' });

    const listing = await run('key', 'list', '--customer', slug);
    expect(listing).toContain(issued.metadata.displayPrefix);
    expect(listing).toContain('deploy-bot');
    expect(listing).not.toContain(issued.key.split('.').at(-1));

    await expect(run('key', 'revoke', '--customer', slug, '--key', issued.metadata.id)).rejects.toMatchObject({ code: 'last_active_key' });
    expect(await run('key', 'revoke', '--customer', slug, '--key', issued.metadata.id, '--force')).toMatch(/^Revoked key_/);
    expect(await services.authenticator.authenticate(hashSecret(issued.key.split('.').at(-1)))).toBeUndefined();
    expect(await run('key', 'list', '--customer', slug)).toMatch(/revoked/);
  });

  it('rolls a key with an overlap, sets and clears an expiry and an allowlist', async () => {
    const rollSlug = `${slug}-roll`;
    await run('customer', 'create', '--slug', rollSlug, '--name', 'Roll Co', '--plan', 'starter');
    const issued = JSON.parse(await run('key', 'issue', '--customer', rollSlug, '--label', 'api', '--application', 'web', '--json'));
    trackSecret(issued.key);
    const rolled = JSON.parse(
      await run('key', 'roll', '--customer', rollSlug, '--key', issued.metadata.id, '--overlap-hours', '24', '--json'),
    );
    trackSecret(rolled.key);
    expect(rolled.metadata).toMatchObject({ label: 'api', rolledFrom: issued.metadata.id });
    expect(rolled.old).toMatchObject({ status: 'active', rolledTo: rolled.metadata.id });
    expect(await run('key', 'list', '--customer', rollSlug)).toMatch(/rolling out/);
    await expect(run('key', 'roll', '--customer', rollSlug, '--key', issued.metadata.id, '--overlap-hours', '1')).rejects.toMatchObject({
      code: 'key_rolling_out',
    });

    const at = new Date(Date.now() + 86_400_000).toISOString();
    expect(await run('key', 'expire', '--customer', rollSlug, '--key', rolled.metadata.id, '--at', at)).toContain(`expires at ${at}`);
    expect(await run('key', 'list', '--customer', rollSlug)).toContain(at);
    expect(await run('key', 'expire', '--customer', rollSlug, '--key', rolled.metadata.id, '--never')).toContain('no longer expires');
    expect(
      await run('key', 'allow-ips', '--customer', rollSlug, '--key', rolled.metadata.id, '--ip', '10.0.0.0/8', '--ip', '::1'),
    ).toContain('may be used from 10.0.0.0/8, ::1');
    await expect(run('key', 'allow-ips', '--customer', rollSlug, '--key', rolled.metadata.id, '--ip', '10.0.0.1/8')).rejects.toMatchObject({
      code: 'validation_failed',
    });
    expect(await run('key', 'allow-ips', '--customer', rollSlug, '--key', rolled.metadata.id, '--any')).toContain('any address');
    expect(await run('key', 'expire-due')).toMatch(/^Revoked \d+ expired key/);
  });

  it('refuses bad input with the API error codes', async () => {
    await expect(run('customer', 'create', '--slug', 'Bad Slug', '--name', 'x', '--plan', 'gold')).rejects.toMatchObject({
      code: 'validation_failed',
    });
    await expect(run('key', 'list', '--customer', 'no-such-customer')).rejects.toMatchObject({ code: 'not_found' });
    await expect(run('key', 'issue', '--customer', slug)).rejects.toThrow(/missing --label/);
    await expect(run('frobnicate')).rejects.toThrow(/unknown command/);
  });

  it('prints a local portal token that the service accepts', async () => {
    const token = await run('token', '--customer', slug, '--role', 'CustomerAdmin', '--name', 'Cli Admin');
    const user = await services.portalTokens.verify(token);
    expect(user).toMatchObject({ customerSlug: slug, roles: ['CustomerAdmin'], name: 'Cli Admin' });
    await expect(run('token', '--role', 'Wizard')).rejects.toThrow(/unknown role/);
  });

  it('prints a ready export line for a token (--export, --var)', async () => {
    const line = await run('token', '--customer', slug, '--role', 'CustomerAdmin', '--export');
    expect(line).toMatch(/^export TOKEN=[A-Za-z0-9_.-]+$/);
    expect(await services.portalTokens.verify(line.slice('export TOKEN='.length))).toMatchObject({ customerSlug: slug });
    const staff = await run('token', '--role', 'Staff', '--export', '--var', 'STAFF');
    expect(staff).toMatch(/^export STAFF=[A-Za-z0-9_.-]+$/);
    expect(await services.portalTokens.verify(staff.slice('export STAFF='.length))).toMatchObject({ roles: ['Staff'] });
    await expect(run('token', '--role', 'Staff', '--export', '--var', 'A B')).rejects.toThrow(/shell variable name/);
    await expect(run('token', '--role', 'Staff', '--var', 'STAFF')).rejects.toThrow(/goes with --export/);
  });

  it('shows, rotates and ends the grace of a tenant key', async () => {
    const shown = JSON.parse(await run('tenant-key', 'show', '--customer', slug, '--json'));
    expect(shown).toMatchObject({ customer: slug, previousVersion: null, inGrace: false });
    const rotated = JSON.parse(await run('tenant-key', 'rotate', '--customer', slug, '--json'));
    expect(rotated).toMatchObject({ previousVersion: shown.currentVersion, inGrace: true });
    expect(await run('tenant-key', 'end-grace', '--customer', slug)).toMatch(/Grace ended/);
    expect(JSON.parse(await run('tenant-key', 'show', '--customer', slug, '--json'))).toMatchObject({
      previousVersion: null,
      inGrace: false,
    });
    await expect(run('tenant-key', 'rotate', '--customer', slug, '--grace-hours', 'soon')).rejects.toThrow(/whole number/);
  });

  it("prints the running host's metrics (stats), and says so when no host answers", async () => {
    const app = await serveApp(services);
    try {
      const { key } = await customerWithKey(services);
      expect((await app.fetch('/v1/whoami', { headers: { 'x-api-key': key } })).status).toBe(200);
      const printed = await run('stats', '--url', app.url);
      expect(printed).toMatch(new RegExp(`^instance ${services.rateLimiter.instanceId} at `));
      expect(printed).toMatch(/veriproof\.auth\.outcomes \{outcome=ok customer=\S+ plan=pro\} {2}\d+/);
      expect(printed).toMatch(/veriproof\.revocation_feed\.lag {2}[\d.]+/);
      const json = JSON.parse(await run('stats', '--url', app.url, '--json')) as { metrics: Array<{ name: string }> };
      expect(json.metrics.map((m) => m.name)).toContain('veriproof.storage.operations');
    } finally {
      await app.close();
    }
    await expect(run('stats', '--url', 'http://127.0.0.1:9')).rejects.toThrow(/no host answers/);
  });

  it('prints usage for help', async () => {
    expect(await run('--help')).toMatch(/Usage: npm run admin/);
  });
});
