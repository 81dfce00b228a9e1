/** The set of manifests a verifier accepts: product -> version -> manifest. */
import type { Manifest } from './manifest.js';

export class ManifestRegistry {
  private readonly byProduct = new Map<string, Map<number, Manifest>>();

  constructor(manifests: Iterable<Manifest> = []) {
    for (const m of manifests) this.add(m);
  }

  add(m: Manifest): void {
    let versions = this.byProduct.get(m.product);
    if (!versions) this.byProduct.set(m.product, (versions = new Map()));
    versions.set(m.version, m);
  }

  hasProduct(product: string): boolean {
    return this.byProduct.has(product);
  }

  get(product: string, version: number): Manifest | undefined {
    return this.byProduct.get(product)?.get(version);
  }

  /** The newest version of a product's manifest. */
  latest(product: string): Manifest | undefined {
    const versions = this.byProduct.get(product);
    if (!versions) return undefined;
    return versions.get(Math.max(...versions.keys()));
  }

  products(): string[] {
    return [...this.byProduct.keys()].sort();
  }

  all(): Manifest[] {
    return [...this.byProduct.values()].flatMap((v) => [...v.values()]);
  }
}
