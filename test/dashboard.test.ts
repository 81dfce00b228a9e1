/**
 * The dashboard in a real browser: headless Chromium (Debian's package) with JavaScript
 * off at phone width, against a real aggregator on 127.0.0.1 holding five weeks of reports.
 */
import { mkdirSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareVersionsDesc } from '../aggregator/totals/compute.js';
import type { Series } from '../aggregator/totals/schema.js';
import { adoptionChart, versionColors } from '../aggregator/web/charts.js';
import { page as dashboardPage } from '../aggregator/web/html.js';
import { renderHome } from '../aggregator/web/pages.js';
import { addDays } from '../src/protocol/time.js';
import { Installation, post, startAggregator, tempDir, testClock } from './aggregator-fixtures.js';

const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const ARTIFACTS = 'test/artifacts';
// The browser's, inside evaluate() callbacks (the project's tsconfig has no DOM lib).
declare function getComputedStyle(el: unknown): { fontSize: string; fontWeight: string; color: string };

const byKey = (a: { period: string; label: string }, b: { period: string; label: string }) =>
  `${a.period} ${a.label}`.localeCompare(`${b.period} ${b.label}`);

function pick<T>(list: readonly T[], i: number, salt: number): T {
  return list[(i * 7 + salt * 13 + ((i * i) % 5)) % list.length]!;
}

describe('dashboard', () => {
  const tmp = tempDir('dashboard');
  const clock = testClock(Date.parse('2026-11-05T12:00:00Z'));
  let base = '';
  let browser: Browser;
  let close: () => Promise<void> = async () => {};

  beforeAll(async () => {
    const { agg, url } = await startAggregator({ dbPath: `${tmp.path}/agg.db` }, { clock: clock.clock });
    base = url;
    close = () => agg.close();
    const insts = Array.from({ length: 140 }, () => new Installation());
    for (let w = 0; w < 5; w++) {
      const active = insts.slice(0, 60 + 20 * w);
      const reports = active.map((inst, i) => JSON.parse(inst.envelope(w + 1, clock.now, {
        // 1.6.0 is released in the last week only: six installations, a small total over the whole range.
        version: w === 4 && i < 6 ? '1.6.0' : i < 25 * w ? '1.5.0' : ['1.3.2', '1.3.1', '1.2.9'][i % 9] ?? '1.4.2',
        elixir_version: pick(['1.16.3', '1.17.2', '1.16.3'], i, 1),
        otp_version: pick(['26.2.5', '27.0.1', '26.2.5'], i, 2),
        os: pick(['linux', 'linux', 'linux', 'linux', 'linux', 'darwin', 'linux', 'freebsd'], i, 3),
        architecture: pick(['x86_64', 'x86_64', 'arm64'], i, 4),
        deployment_type: pick(['docker', 'docker', 'source', 'binary', 'docker'], i, 5),
        users: pick([3, 8, 25, 37, 120, 400, 2000], i, 6),
        projects: i % 3 === 0 ? undefined : pick([0, 4, 30, 90], i, 7),
        db_size_mb: i % 4 === 0 ? undefined : pick([200, 900, 3000, 40_000], i, 8),
        features: i % 2 === 0 ? undefined : pick([['sso'], ['notifications'], ['notifications', 'sso'], ['ai_features', 'notifications']], i, 9),
      })));
      expect((await post(`${url}/v1/reports/batch`, JSON.stringify({ reports }))).json.accepted).toBe(active.length);
      clock.now += 7 * 86_400_000;
    }
    // W49 (to 2026-12-06) takes reports until 2026-12-13: from the 14th it is the latest final week.
    clock.now = Date.parse('2026-12-14T10:00:00Z');
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
    mkdirSync(ARTIFACTS, { recursive: true });
  });

  afterAll(async () => {
    await browser?.close();
    await close();
    tmp.remove();
  });

  const openPage = async (path: string) => {
    const context = await browser.newContext({ javaScriptEnabled: false, viewport: { width: 390, height: 844 } });
    const page = await context.newPage();
    const requests: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    const res = await page.goto(base + path);
    return { context, page, res, requests };
  };

  it('GET /p/operately shows the count, a chart per field, suppressed cells and what is collected, at phone width without JavaScript', async () => {
    const { context, page, res, requests } = await openPage('/p/operately');
    expect(res?.status()).toBe(200);
    const text = await page.locator('body').innerText();
    expect(text).toContain('Operately');
    expect(text).toContain('Week 2026-W49');
    expect(text).toMatch(/140\s+installations/);
    for (const field of ['version', 'os', 'deployment_type', 'users', 'db_size_mb', 'features']) expect(text).toContain(field);
    expect(text).toContain('Version adoption');
    expect(text).toContain('What is collected');
    expect(text).toContain('Deliberately not collected');
    expect(text).toContain('installation_id');
    // freebsd has fewer than k installations: its bar says so instead of a number.
    expect(await page.locator('svg text', { hasText: 'suppressed' }).count()).toBeGreaterThan(0);
    // A chart per reported field plus the adoption chart; fields nobody sent say so in one line.
    expect(await page.locator('svg').count()).toBe(1 + 13 - 3);
    expect(text).toContain('No installation reported goals in this week.');
    // Nothing wider than the phone: no horizontal scrolling.
    const widths = await page.evaluate('[document.documentElement.scrollWidth, window.innerWidth]') as number[];
    expect(widths[0]).toBeLessThanOrEqual(widths[1]!);
    // No external assets and no scripts.
    expect(requests.every((u) => u.startsWith(base))).toBe(true);
    expect(await page.locator('script').count()).toBe(0);
    await page.screenshot({ path: `${ARTIFACTS}/dashboard-operately.png`, fullPage: true });
    await context.close();
  });

  /** Renders a page the server would send straight into the browser (for states the fixture's data never reaches). */
  const openHtml = async (html: string, width = 390) => {
    const context = await browser.newContext({ javaScriptEnabled: false, viewport: { width, height: 844 } });
    const page = await context.newPage();
    await page.setContent(html);
    return { context, page };
  };

  it('a suppressed headline number reads as a muted status in the label size, with an explanation', async () => {
    const html = renderHome([{ product: 'operately', title: 'Operately', description: 'Operately installations.', manifest: 1, k: 5,
      latest: { window: 'week', period: '2026-W49', belowThreshold: false, installations: 17, established: null } }]);
    const { context, page } = await openHtml(html);
    const number = page.locator('.stat', { hasText: 'installations' }).locator('b');
    const status = page.locator('.stat', { hasText: 'established' }).locator('.sup');
    expect(await status.count()).toBe(1);
    expect(await status.innerText()).toContain('suppressed');
    expect(await status.getAttribute('title')).toMatch(/fewer than 5/);
    const style = (l: typeof number) => l.evaluate((el) => {
      const s = getComputedStyle(el);
      return { size: parseFloat(s.fontSize), weight: Number(s.fontWeight), color: s.color };
    });
    const label = await style(page.locator('.stat span').first());
    const [n, s] = [await style(number), await style(status)];
    expect(s.size).toBe(label.size);
    expect(s.size).toBeLessThan(n.size / 2);
    expect(s.weight).toBeLessThan(n.weight);
    expect(s.color).toBe(label.color);
    // The labels under a number and under the status line up.
    const [nl, sl] = [await page.locator('.stat span').nth(0).boundingBox(), await page.locator('.stat span').nth(1).boundingBox()];
    expect(Math.abs(nl!.y - sl!.y)).toBeLessThan(1);
    await page.screenshot({ path: `${ARTIFACTS}/dashboard-suppressed-stat.png` });
    await context.close();
  });

  it('the adoption chart shows every version in every period where it is published, and no count the API suppresses', async () => {
    const { context, page } = await openPage('/p/operately');
    const titles = await page.locator('svg').first().locator('rect > title').allTextContents();
    const shown = titles.map((t) => /^(\S+) (.+): (\d+) \(/.exec(t)).filter((m) => m !== null).map((m) => ({ period: m[1]!, label: m[2]!, n: Number(m[3]) }));
    // The newest release, in the one week it exists.
    expect(shown).toContainEqual({ period: '2026-W49', label: '1.6.0', n: 6 });
    expect(await page.locator('ul.legend li', { hasText: '1.6.0' }).count()).toBe(1);
    // Every segment is a published cell (or the published `other` cell), and every published cell is a segment.
    const href = await page.locator('a[href*="/series?"]').getAttribute('href');
    const series = await (await fetch(base + href!.replace('format=csv', 'format=json'))).json() as Series;
    const published = series.points.flatMap((p) => p.cells.filter((c) => c.count !== null && c.count > 0)
      .map((c) => ({ period: p.period, label: c.label === 'other' ? 'other versions' : c.label, n: c.count! })));
    expect(series.points.some((p) => p.cells.some((c) => c.count === null))).toBe(true);
    expect(shown.filter((x) => x.label !== 'suppressed or not reported').sort(byKey)).toEqual(published.sort(byKey));
    await context.close();
  });

  it('a version keeps its colour across views; the legend is in version order, newest first, other last', async () => {
    const seen = new Map<string, string>();
    for (const path of ['/p/operately', '/p/operately?window=week&period=2026-W46', '/p/operately?window=month&period=2026-11',
      '/p/operately?window=day&period=2026-12-03']) {
      const { context, page } = await openPage(path);
      const items = page.locator('ul.legend li');
      const legend: { label: string; fill: string }[] = [];
      for (let i = 0; i < await items.count(); i++)
        legend.push({ label: await items.nth(i).innerText(), fill: (await items.nth(i).locator('i').getAttribute('style'))!.replace('background:', '') });
      const labels = legend.map((x) => x.label.trim());
      const versions = labels.slice(0, -2);
      expect(labels.slice(-2), path).toEqual(['other versions', 'suppressed or not reported']);
      expect(versions.length, path).toBeGreaterThanOrEqual(2);
      expect(versions, path).toEqual([...versions].sort((a, b) => compareVersionsDesc(a, b)));
      expect(new Set(legend.map((x) => x.fill)).size, path).toBe(legend.length);
      for (const { label, fill } of legend.slice(0, -2)) {
        expect(seen.get(label) ?? fill, `${path} ${label}`).toBe(fill);
        seen.set(label, fill);
        // The chart's segments use the legend's colour.
        const segs = page.locator('svg').first().locator('rect', { has: page.locator(`title:text-matches(" ${label.replace(/\./g, '\\.')}: ")`) });
        expect(await segs.count(), `${path} ${label}`).toBeGreaterThan(0);
        for (let i = 0; i < await segs.count(); i++) expect(await segs.nth(i).getAttribute('fill')).toBe(fill);
      }
      if (path === '/p/operately') await page.screenshot({ path: `${ARTIFACTS}/dashboard-adoption.png`, fullPage: true });
      await context.close();
    }
    expect([...seen.keys()]).toEqual(expect.arrayContaining(['1.6.0', '1.5.0', '1.4.2']));
  });

  it('x-axis labels of the adoption chart never overlap, at 390 and 1200 px, and the latest period is labelled', async () => {
    const series = (window: Series['window'], periods: string[]): Series => ({
      product: 'operately', field: 'version', kind: 'version', window, from: periods[0]!, to: periods.at(-1)!, k: 5, noise: null,
      points: periods.map((period) => ({ period, from: period, to: period, complete: true, final: true, belowThreshold: false, installations: 20,
        cells: [{ label: '1.2.1', count: 8, suppressed: false }, { label: '1.2.0', count: 12, suppressed: false }, { label: 'other', count: 0, suppressed: false }],
        absent: { count: 0, suppressed: false } })),
    });
    const days = (n: number) => Array.from({ length: n }, (_, i) => addDays('2026-12-02', i - n + 1));
    const weeks = Array.from({ length: 12 }, (_, i) => `2026-W${String(38 + i).padStart(2, '0')}`);
    const cases = [series('day', days(12)), series('day', days(31)), series('week', weeks), series('day', days(2))];
    for (const width of [390, 1200]) {
      for (const s of cases) {
        const { svg, legend } = adoptionChart('a', s);
        const { context, page } = await openHtml(dashboardPage('chart', `<div class="card">${svg}${legend}</div>`), width);
        const labels = page.locator('svg text.x');
        const boxes = [];
        for (let i = 0; i < await labels.count(); i++) boxes.push((await labels.nth(i).boundingBox())!);
        const what = `${width}px ${s.window} x${s.points.length}`;
        expect(boxes.length, what).toBeGreaterThanOrEqual(Math.min(s.points.length, 4));
        for (let i = 1; i < boxes.length; i++) expect(boxes[i]!.x, what).toBeGreaterThan(boxes[i - 1]!.x + boxes[i - 1]!.width + 2);
        // None cut off at the chart's edges.
        const chart = (await page.locator('svg').first().boundingBox())!;
        expect(boxes[0]!.x, what).toBeGreaterThanOrEqual(chart.x);
        expect(boxes.at(-1)!.x + boxes.at(-1)!.width, what).toBeLessThanOrEqual(chart.x + chart.width);
        expect(await labels.last().textContent(), what).toBe(s.window === 'day' ? '12-02' : 'W49');
        if (s.points.length === 12 && s.window === 'day') await page.screenshot({ path: `${ARTIFACTS}/dashboard-day-axis-${width}.png` });
        await context.close();
      }
    }
  });

  it('neighbouring releases get distinct colours, each the colour it has on its own', () => {
    const releases = (parts: number[][]) => parts.map((p) => p.join('.')).sort((a, b) => compareVersionsDesc(a, b));
    const lines = [
      ...[1, 17, 30].map((major) => releases(Array.from({ length: 14 }, (_, minor) => [0, 1, 2, 3].map((patch) => [major, minor, patch])).flat())),
      releases(Array.from({ length: 30 }, (_, minor) => [1, minor])),
      releases(Array.from({ length: 30 }, (_, major) => [major])),
    ];
    let windows = 0;
    for (const line of lines) {
      for (let i = 0; i + 12 <= line.length; i++) {
        const shown = line.slice(i, i + 12);
        const colors = versionColors(shown);
        expect(new Set(colors.values()).size, shown.join(' ')).toBe(shown.length);
        for (const v of shown) expect(colors.get(v), `${v} among ${shown.join(' ')}`).toBe(versionColors([v]).get(v));
        windows++;
      }
    }
    expect(windows).toBeGreaterThan(150);
  });

  it('the window chooser works as plain links and a GET form', async () => {
    const { context, page } = await openPage('/p/operately');
    await page.getByRole('link', { name: 'Month' }).click();
    expect(new URL(page.url()).searchParams.get('period')).toBe('2026-11');
    expect(await page.locator('body').innerText()).toContain('Month 2026-11');
    await page.selectOption('select[name=window]', 'week');
    await page.fill('input[name=period]', '2026-W46');
    await page.getByRole('button', { name: 'Show' }).click();
    const text = await page.locator('body').innerText();
    expect(text).toContain('Week 2026-W46');
    expect(text).toMatch(/80\s+installations/);
    await context.close();
  });

  it('GET / lists the products with headline numbers; bad input gets an HTML error page', async () => {
    const { context, page } = await openPage('/');
    const text = await page.locator('body').innerText();
    expect(text).toContain('Community totals');
    expect(text).toContain('Operately');
    expect(text).toMatch(/140\s+installations/);
    // Every product is listed, those with published numbers first.
    const { products } = await (await fetch(`${base}/api/v1/products`)).json() as { products: { title: string; latest: { belowThreshold: boolean } }[] };
    const cards = await page.locator('section.card').allInnerTexts();
    expect(cards.map((c) => c.split('\n')[0]!.trim()).sort()).toEqual(products.map((p) => p.title).sort());
    const below = cards.map((c) => /Fewer than \d+ installations/.test(c));
    expect(below).toEqual(products.map((p) => p.latest.belowThreshold).sort((a, b) => Number(a) - Number(b)));
    expect(below[0]).toBe(false);
    expect(below).toContain(true);
    await page.screenshot({ path: `${ARTIFACTS}/dashboard-home.png`, fullPage: true });
    const bad = await page.goto(`${base}/p/operately?window=week&period=2026-W99`);
    expect(bad?.status()).toBe(400);
    expect(await page.locator('h1').innerText()).toBe('Bad request');
    const missing = await page.goto(`${base}/p/nosuch`);
    expect(missing?.status()).toBe(404);
    await context.close();
  });

  it('escapes what it renders', async () => {
    const res = await fetch(`${base}/p/operately?window=week&period=%3Cscript%3E`);
    expect(res.status).toBe(400);
    const html = await res.text();
    expect(html).not.toContain('<script>');
    expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
  });
});
