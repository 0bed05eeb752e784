// Frozen all the way down: for values several callers share from a cache, where a caller that changed
// one would change it for all (in strict mode the change throws instead).
export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
