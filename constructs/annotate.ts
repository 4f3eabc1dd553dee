import { ApiObject } from 'cdk8s';
import type { Construct } from 'constructs';

/** Adds annotations to every API object below `scope` (`Chart.apiObjects` lists direct children only). */
export function annotateAll(scope: Construct, annotations: Record<string, string>): void {
  for (const node of scope.node.findAll()) {
    if (!ApiObject.isApiObject(node)) continue;
    for (const [key, value] of Object.entries(annotations)) node.metadata.addAnnotation(key, value);
  }
}
