import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConnectionId } from '../../src/domain/resource-id.js';
import { DEMO, DEMO_PEOPLE } from '../../src/dev/demo-world.js';
import type { LocalStack } from '../../src/dev/local-stack.js';
import type { TeamsEmulator } from '../../src/dev/teams-emulator/index.js';
import { auditEntries, eventually, startTestStack } from './helpers.js';

/** Every wait in this file is bounded by this, so a broken flow fails instead of hanging. */
const WAIT_MS = 20_000;
const ada = DEMO_PEOPLE.approverAda;

describe('Teams in a browser: an approver approves a request from the card', () => {
  let stack: LocalStack;
  let teams: TeamsEmulator;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    stack = await startTestStack();
    const emulated = (stack as LocalStack & { teams?: TeamsEmulator }).teams;
    if (!emulated) throw new Error('The local stack has no Teams emulator (LocalStack.teams)');
    teams = emulated;
    // Installing again is what Teams does when the app is re-added; the bot keeps one reference.
    await teams.installBot();
    browser = await chromium.launch({
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
    });
    page = await browser.newPage({ viewport: { width: 1200, height: 1000 } });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await stack?.close();
  });

  it('shows the approver view through refresh, approves with a comment, and every side agrees', async () => {
    try {
      // Prepare: Ada opens the channel
      await page.goto(teams.pageUrl, { timeout: WAIT_MS });
      await page.selectOption('#me', ada.objectId, { timeout: WAIT_MS });
      await expect.poll(() => page.textContent('#me-role'), { timeout: WAIT_MS }).toContain('Ada Approver');

      // A partner asks for a connection; the rules send it to review
      const connection = await stack.emulator!.simulateRequest({
        vault: DEMO.vaultName,
        fromSubscription: DEMO.partnerSubscriptionId,
        endpointName: 'pe-browser-e2e',
        message: 'Partner sync from the browser test',
        requesterObjectId: DEMO_PEOPLE.requesterRita.objectId,
      });
      const ref = parseConnectionId(connection.id);
      const message = await eventually(
        async () => teams.messages().find((m) => JSON.stringify(m.card ?? '').includes('pe-browser-e2e')),
        'the review card in the channel',
        WAIT_MS,
      );
      const post = page.locator(`article.post[data-message-id="${message.id}"]`);

      // Act: Ada's own view arrives by refresh, with the comment box and the buttons
      const approve = post.getByRole('button', { name: /^Approve/ });
      await approve.waitFor({ state: 'visible', timeout: WAIT_MS });
      await post.locator('textarea, input[type="text"]').first().fill('Matches change CHG-1042', { timeout: WAIT_MS });
      await approve.click({ timeout: WAIT_MS });

      // Assess: the ARM emulator, the card on the page, and the audit all say Ada approved it
      await eventually(
        async () => (stack.emulator!.getConnection(ref.id)?.properties.privateLinkServiceConnectionState.status === 'Approved' ? true : undefined),
        'the connection to be Approved in the ARM emulator',
        WAIT_MS,
      );
      await post.getByText('Approved by Ada Approver').first().waitFor({ state: 'visible', timeout: WAIT_MS });
      const entries = await eventually(
        async () => {
          const found = await auditEntries(stack, { connection: ref.id });
          return found.some((e) => e.actor.type === 'user' && e.actor.id === ada.objectId) ? found : undefined;
        },
        "an audit entry with Ada as the actor",
        WAIT_MS,
      );
      expect(entries.find((e) => e.actor.type === 'user')?.actor).toMatchObject({ type: 'user', id: ada.objectId });
    } catch (error) {
      const dir = mkdtempSync(join(tmpdir(), 'linkgate-teams-e2e-'));
      const file = join(dir, 'failure.png');
      await page?.screenshot({ path: file, fullPage: true, timeout: 5_000 }).catch(() => undefined);
      console.error(`Teams browser test failed; screenshot: ${file}`);
      throw error;
    }
  }, 120_000);
});
