/**
 * The few Reflect metadata functions tsyringe (a dependency of @peculiar/x509) insists on at load time, so that the
 * `reflect-metadata` package is not needed. Import this module before `@peculiar/x509`. A no-op if a real polyfill
 * is already loaded.
 */
type Target = object;
type Key = string | symbol | undefined;

const R = Reflect as unknown as Record<string, unknown>;
if (typeof R.getMetadata !== 'function') {
  const store = new WeakMap<Target, Map<Key, Map<unknown, unknown>>>();
  const own = (target: Target, prop: Key, create: boolean): Map<unknown, unknown> | undefined => {
    let byProp = store.get(target);
    if (!byProp) {
      if (!create) return undefined;
      byProp = new Map();
      store.set(target, byProp);
    }
    let map = byProp.get(prop);
    if (!map && create) {
      map = new Map();
      byProp.set(prop, map);
    }
    return map;
  };
  const defineMetadata = (key: unknown, value: unknown, target: Target, prop?: Key): void => {
    own(target, prop, true)!.set(key, value);
  };
  const getOwnMetadata = (key: unknown, target: Target, prop?: Key): unknown => own(target, prop, false)?.get(key);
  const hasOwnMetadata = (key: unknown, target: Target, prop?: Key): boolean => own(target, prop, false)?.has(key) ?? false;
  const getMetadata = (key: unknown, target: Target, prop?: Key): unknown => {
    for (let t: Target | null = target; t; t = Object.getPrototypeOf(t) as Target | null) {
      if (hasOwnMetadata(key, t, prop)) return getOwnMetadata(key, t, prop);
    }
    return undefined;
  };
  const hasMetadata = (key: unknown, target: Target, prop?: Key): boolean => {
    for (let t: Target | null = target; t; t = Object.getPrototypeOf(t) as Target | null) {
      if (hasOwnMetadata(key, t, prop)) return true;
    }
    return false;
  };
  const metadata =
    (key: unknown, value: unknown) =>
    (target: Target, prop?: Key): void =>
      defineMetadata(key, value, target, prop);
  Object.assign(R, { defineMetadata, getOwnMetadata, hasOwnMetadata, getMetadata, hasMetadata, metadata });
}

export {};
