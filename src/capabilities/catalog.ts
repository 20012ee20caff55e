import { basePathOf, loadDocument, scopesOf } from '../http/openapi.ts';
import type { Capability } from './types.ts';

/** A capability as the operator and the token endpoint see it. */
export interface CatalogEntry {
  id: string;
  title: string;
  description: string;
  scopes: string[];
  apis: Array<{ title: string; version: string; basePath: string }>;
}

/** Reads the catalog from the capabilities' documents: their scopes are whatever their operations require. */
export function buildCatalog(capabilities: readonly Capability[]): CatalogEntry[] {
  const seen = new Set<string>();
  return capabilities.map((cap) => {
    if (seen.has(cap.id)) throw new Error(`capability ${cap.id} is registered twice`);
    seen.add(cap.id);
    const docs = cap.documents.map(loadDocument);
    return {
      id: cap.id,
      title: cap.title,
      description: cap.description,
      scopes: [...new Set(docs.flatMap((d) => scopesOf(d)))].sort(),
      apis: docs.map((d) => ({ title: d.info.title, version: d.info.version, basePath: basePathOf(d) })),
    };
  });
}
