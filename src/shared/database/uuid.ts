/** Whether a string is a UUID: ids that are checked before they reach a `::uuid` cast (which would fail the statement). */
export const isUuid = (value: string): boolean =>
  /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value);
