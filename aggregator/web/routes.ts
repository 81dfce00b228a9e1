/** The dashboard: GET / and GET /p/:product, server-rendered HTML that needs no script. */
import type Router from '@koa/router';
import type Koa from 'koa';
import { HttpError } from '../../src/server/http.js';
import { queryParam, send } from '../totals/routes.js';
import type { TotalsService } from '../totals/service.js';
import { DEFAULT_SERIES_LENGTH } from '../totals/service.js';
import { windowsEndingWith } from '../totals/windows.js';
import { renderError, renderHome, renderProduct } from './pages.js';

const HTML = 'text/html; charset=utf-8';
// Nothing but this page's own inline CSS and SVG: no scripts, no external assets.
const CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

export function mountDashboard(router: Router, service: TotalsService, maxAgeSeconds: number): void {
  const html = async (ctx: Koa.Context, render: () => string) => {
    ctx.set('Content-Security-Policy', CSP);
    ctx.set('X-Content-Type-Options', 'nosniff');
    try {
      send(ctx, render(), HTML, maxAgeSeconds);
    } catch (e) {
      if (!(e instanceof HttpError) || e.status >= 500) throw e;
      ctx.status = e.status;
      ctx.type = HTML;
      ctx.body = renderError(e.status, e.message);
    }
  };

  router.get('/', (ctx) => html(ctx, () => renderHome(service.summaries())));

  router.get('/p/:product', (ctx) => html(ctx, () => {
    const manifest = service.manifest(ctx.params.product);
    const kind = service.windowKind(queryParam(ctx, 'window'));
    const window = service.window(kind, queryParam(ctx, 'period'));
    const totals = service.totals(manifest.product, kind, window.period);
    const versionField = Object.hasOwn(manifest.fields, 'version') && manifest.fields.version!.kind === 'version'
      ? 'version' : Object.entries(manifest.fields).find(([, s]) => s.kind === 'version')?.[0];
    const first = windowsEndingWith(window, DEFAULT_SERIES_LENGTH)[0]!;
    let adoption = versionField ? service.series(manifest.product, versionField, kind, first.period, window.period) : null;
    // Periods before the product had k installations would only be empty columns.
    if (adoption) {
      const start = adoption.points.findIndex((x) => !x.belowThreshold);
      const points = adoption.points.slice(start < 0 ? 0 : Math.min(start, adoption.points.length - 2));
      adoption = { ...adoption, points, from: points[0]!.period };
    }
    return renderProduct({ manifest, totals, window, latest: service.latestPeriods(), adoption });
  }));
}
