// Drives PainChain's real frontend in Debian's Chromium (headless) with playwright-core, as a person would:
// clicks, typing, Enter for a tag chip, the form's own buttons. One scene per process: a JSON job on stdin,
// a JSON result on stdout (what the page showed), screenshots in job.outputDir. Run by run.py, which
// decides what to fill and judges what was seen; this file only acts and observes.
//
// job: {toolsDir, chromium, baseUrl, authToken, outputDir, scene, ...scene fields}
// scenes: "create" (plan, connectorId, shots: empty, filled, panel, retry), "list" (open: [{name, shot,
//         panelShot}], shot, mainShot), "edit" (name, changes, shot), "timeline" (shot, cardPrefix)
// A "panel" shot is the slide-out panel alone at the default viewport (the top of the form), a "main" shot
// the page without its sidebar: the small pictures docs/images are made from.

import { createRequire } from 'node:module';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const WIDE = { width: 1440, height: 1000 };
const STEP_TIMEOUT_MS = 15000;

async function readJob() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

async function launch(job) {
  const require = createRequire(join(job.toolsDir, 'package.json'));
  const { chromium } = require('playwright-core');
  const userDataDir = mkdtempSync(join(tmpdir(), 'painchain-real-ui-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: job.chromium,
    headless: true, // playwright passes --headless
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: WIDE,
    // The frontend has no login page yet; the backend wants the logged-in user's token on some routes.
    extraHTTPHeaders: job.authToken ? { Authorization: `Bearer ${job.authToken}` } : {},
  });
  context.setDefaultTimeout(STEP_TIMEOUT_MS);
  const page = context.pages()[0] ?? (await context.newPage());
  const seen = { dialogs: [], pageErrors: [], failedRequests: [] };
  page.on('dialog', async (dialog) => {
    seen.dialogs.push(dialog.message());
    await dialog.accept();
  });
  page.on('pageerror', (error) => seen.pageErrors.push(String(error.message).slice(0, 300)));
  page.on('response', (response) => {
    if (response.status() >= 400 && response.url().includes('/api/')) {
      seen.failedRequests.push(`${response.request().method()} ${new URL(response.url()).pathname} -> ${response.status()}`);
    }
  });
  const close = async () => {
    await context.close();
    rmSync(userDataDir, { recursive: true, force: true });
  };
  return { page, seen, close };
}

const shotPath = (job, name) => join(job.outputDir, name);

// Every config field the panel shows: its label, whether it is marked required (*), its control and value.
async function readFields(page) {
  return page.locator('.config-fields > .config-field').evaluateAll((nodes) =>
    nodes.map((node) => {
      const label = node.querySelector('label.config-label');
      const raw = label ? label.textContent ?? '' : '';
      const chips = [...node.querySelectorAll('.label-tag')].map((chip) => (chip.textContent ?? '').trim());
      const textarea = node.querySelector('textarea');
      const input = node.querySelector('input');
      const chipInput = !textarea && node.querySelector('button') !== null;
      const control = textarea ? 'textarea' : chipInput ? 'chips' : input ? `input:${input.type}` : 'none';
      const element = textarea ?? input;
      let value = '';
      if (chipInput) value = chips.join(', ');
      else if (element && element.type !== 'password') value = element.value;
      const help = [...node.querySelectorAll('p')].map((p) => (p.textContent ?? '').trim()).join(' ');
      return {
        label: raw.replace(/\s*\*\s*$/, '').trim(),
        required: /\*\s*$/.test(raw.trim()),
        control,
        value, // a password field's value is never read out
        hasValue: chipInput ? chips.length > 0 : element ? element.value.length > 0 : false,
        chips,
        placeholder: element ? element.getAttribute('placeholder') ?? '' : '',
        help,
      };
    }),
  );
}

function fieldByLabel(page, label) {
  return page
    .locator('.config-fields > .config-field')
    .filter({ has: page.locator('label.config-label', { hasText: label }) })
    .first();
}

// Type one value the way the control asks for it; tags are chips (type, then Enter).
async function fillField(page, step) {
  const field = fieldByLabel(page, step.label);
  if (step.kind === 'chips') {
    for (const tag of step.values) {
      const input = field.locator('input[type="text"]').first();
      await input.click();
      await input.fill(tag);
      await input.press('Enter');
    }
    return;
  }
  const control = field.locator(step.kind === 'textarea' ? 'textarea' : 'input').first();
  await control.click();
  await control.fill(step.value);
}

async function blurByClickingHeader(page) {
  await page.locator('.slide-panel-header h2').click();
}

// Make the viewport tall enough that the whole slide panel is in the screenshot.
async function fitPanel(page) {
  const height = await page
    .locator('.slide-panel-content')
    .evaluate((node) => node.scrollHeight + 200)
    .catch(() => WIDE.height);
  await page.setViewportSize({ width: WIDE.width, height: Math.max(WIDE.height, Math.min(height, 4000)) });
}

async function submitPanel(page, seen) {
  const before = seen.dialogs.length;
  await page.locator('.slide-panel-footer button[type="submit"]').click();
  // Either the panel closes (saved) or the page says no in an alert and the panel stays.
  const deadline = Date.now() + STEP_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if ((await page.locator('aside.slide-panel').count()) === 0) return { closed: true, dialogs: seen.dialogs.slice(before) };
    if (seen.dialogs.length > before) {
      await page.waitForTimeout(300);
      return { closed: (await page.locator('aside.slide-panel').count()) === 0, dialogs: seen.dialogs.slice(before) };
    }
    await page.waitForTimeout(100);
  }
  return { closed: false, dialogs: seen.dialogs.slice(before) };
}

async function openIntegrations(page, job) {
  await page.goto(`${job.baseUrl}/integrations`);
  await page.locator('.settings-header h1', { hasText: 'Integrations' }).waitFor();
  // The list has loaded once "Loading..." is gone.
  await page.waitForFunction(() => !document.querySelector('.integrations-list')?.textContent?.includes('Loading...'));
}

async function sceneCreate(page, seen, job) {
  await openIntegrations(page, job);
  await page.getByRole('button', { name: '+ New Integration' }).click();
  const select = page.locator('.slide-panel select').first();
  // The connector types load on their own request, independently of the list: wait until the select
  // offers something beyond its placeholder, as a person waits for the choices to appear.
  await select
    .locator('option:not([value=""])')
    .first()
    .waitFor({ state: 'attached' })
    .catch(() => {});
  const options = await select.locator('option').evaluateAll((nodes) =>
    nodes.map((node) => ({ value: node.value, label: (node.textContent ?? '').trim() })),
  );
  if (!options.some((option) => option.value === job.connectorId)) {
    return { created: false, options, fieldsBefore: [], steps: [], attempts: [], reason: 'connector not offered' };
  }
  await select.selectOption(job.connectorId);
  await page.locator('.config-fields > .config-field').first().waitFor();
  const fieldsBefore = await readFields(page);
  await fitPanel(page);
  if (job.shots.empty) await page.screenshot({ path: shotPath(job, job.shots.empty) });

  const steps = [];
  const attempts = [];
  for (const step of job.plan.fill) {
    await fillField(page, step);
    steps.push(step.label);
  }
  await blurByClickingHeader(page);
  if (job.shots.panel) {
    await page.setViewportSize(WIDE);
    await page.locator('aside.slide-panel').screenshot({ path: shotPath(job, job.shots.panel) });
  }
  await fitPanel(page);
  if (job.shots.filled) await page.screenshot({ path: shotPath(job, job.shots.filled) });
  let outcome = await submitPanel(page, seen);
  attempts.push({ filled: [...steps], ...outcome });
  // What a person does after the form refuses: add what the alert asked for, once.
  if (!outcome.closed && job.plan.ifRefused.length) {
    for (const step of job.plan.ifRefused) {
      await fillField(page, step);
      steps.push(step.label);
    }
    await blurByClickingHeader(page);
    if (job.shots.retry) await page.screenshot({ path: shotPath(job, job.shots.retry) });
    outcome = await submitPanel(page, seen);
    attempts.push({ filled: [...steps], ...outcome });
  }
  await page.setViewportSize(WIDE);
  return { created: outcome.closed, options, fieldsBefore, steps, attempts };
}

async function readCards(page) {
  return page.locator('.integration-card').evaluateAll((nodes) =>
    nodes.map((node) => {
      const meta = [...node.querySelectorAll('.integration-card-status .integration-card-meta')];
      return {
        name: (node.querySelector('h3')?.textContent ?? '').trim(),
        status: (node.querySelector('.status-badge')?.textContent ?? '').trim(),
        lastSync: (meta[0]?.textContent ?? '').trim(),
      };
    }),
  );
}

async function sceneList(page, seen, job) {
  await openIntegrations(page, job);
  await page.waitForTimeout(500); // images (connector logo) settle
  const cards = await readCards(page);
  if (job.shot) await page.screenshot({ path: shotPath(job, job.shot), fullPage: true });
  if (job.mainShot) {
    // From the page's title to the last card: no sidebar, no navigation bar, no empty space below.
    const header = await page.locator('.settings-header').boundingBox();
    const list = await page.locator('.integrations-list').boundingBox();
    const margin = 16;
    const clip = {
      x: list.x - margin,
      y: header.y - margin,
      width: list.width + 2 * margin,
      height: list.y + list.height - header.y + 2 * margin,
    };
    await page.screenshot({ path: shotPath(job, job.mainShot), clip });
  }
  const opened = {};
  for (const item of job.open ?? []) {
    await page.locator('.integration-card', { has: page.locator('h3', { hasText: item.name }) }).first().click();
    await page.locator('.config-fields > .config-field').first().waitFor();
    if (item.panelShot) {
      await page.locator('aside.slide-panel').screenshot({ path: shotPath(job, item.panelShot) });
    }
    await fitPanel(page);
    opened[item.name] = await readFields(page);
    if (item.shot) await page.screenshot({ path: shotPath(job, item.shot) });
    await page.locator('.slide-panel-header .close-btn').click();
    await page.setViewportSize(WIDE);
  }
  return { cards, opened };
}

async function sceneEdit(page, seen, job) {
  await openIntegrations(page, job);
  await page.locator('.integration-card', { has: page.locator('h3', { hasText: job.name }) }).first().click();
  await page.locator('.config-fields > .config-field').first().waitFor();
  for (const step of job.changes) await fillField(page, step);
  await blurByClickingHeader(page);
  await fitPanel(page);
  if (job.shot) await page.screenshot({ path: shotPath(job, job.shot) });
  const outcome = await submitPanel(page, seen);
  await page.setViewportSize(WIDE);
  return { saved: outcome.closed, dialogs: outcome.dialogs };
}

async function sceneTimeline(page, seen, job) {
  await page.goto(`${job.baseUrl}/`);
  // Cards, or the page's own empty state.
  await page.locator('.change-card').or(page.getByText('No changes found.')).first().waitFor();
  await page.waitForTimeout(500);
  const buttons = page.locator('.change-card .expand-btn');
  const count = await buttons.count();
  for (let index = 0; index < count; index += 1) await buttons.nth(index).click();
  if (count) await page.locator('.change-card .change-details').nth(count - 1).waitFor();
  // The whole page in one viewport: no scrolling, so the sticky header stays on top and covers no card.
  const height = await page.evaluate(() => document.documentElement.scrollHeight);
  await page.setViewportSize({ width: WIDE.width, height: Math.min(Math.max(height, WIDE.height), 16000) });
  await page.mouse.move(0, 0); // no card left in its hover state
  await page.waitForTimeout(300);
  const cards = await page.locator('.change-card').evaluateAll((nodes) =>
    nodes.map((node) => {
      const details = node.querySelector('.change-details');
      const rows = details ? [...details.firstElementChild.children] : [];
      return {
        title: (node.querySelector('h3')?.textContent ?? '').trim(),
        link: node.querySelector('h3 a')?.getAttribute('href') ?? '',
        by: (node.querySelector('.change-meta div')?.textContent ?? '').trim(),
        project: (node.querySelector('.change-repo')?.textContent ?? '').trim(),
        details: rows.map((row) => {
          // A list of strings is drawn as chips: a wrapping flex box holding one span per entry.
          const box = row.children[1]?.firstElementChild;
          const chips = box && box.tagName === 'DIV' && box.style.flexWrap === 'wrap' ? [...box.children] : null;
          return {
            key: (row.children[0]?.textContent ?? '').replace(/:\s*$/, '').trim(),
            text: (row.children[1]?.innerText ?? '').replace(/\s+/g, ' ').trim(),
            entries: chips ? chips.map((chip) => (chip.textContent ?? '').replace(/\s+/g, ' ').trim()) : null,
          };
        }),
      };
    }),
  );
  const files = [];
  for (let index = 0; index < count; index += 1) {
    const name = `${job.cardPrefix}${String(index + 1).padStart(2, '0')}.png`;
    await page.locator('.change-card').nth(index).screenshot({ path: shotPath(job, name) });
    files.push(name);
  }
  if (job.shot) await page.screenshot({ path: shotPath(job, job.shot), fullPage: true });
  return { cards: cards.map((card, index) => ({ ...card, screenshot: files[index] })) };
}

const SCENES = { create: sceneCreate, list: sceneList, edit: sceneEdit, timeline: sceneTimeline };

const job = await readJob();
const { page, seen, close } = await launch(job);
let result;
try {
  result = { ok: true, ...(await SCENES[job.scene](page, seen, job)) };
} catch (error) {
  const shot = `failed-${job.scene}.png`;
  await page.screenshot({ path: shotPath(job, shot), fullPage: true }).catch(() => {});
  result = { ok: false, error: String(error.message ?? error).split('\n').slice(0, 6).join('\n'), screenshot: shot };
} finally {
  await close();
}
process.stdout.write(JSON.stringify({ ...result, dialogs: seen.dialogs, pageErrors: seen.pageErrors, failedRequests: seen.failedRequests }));
