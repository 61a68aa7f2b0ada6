/** The four hosts of the platform; each has a bundle folder `hosts/<role>/`. */
export const ROLES = ["logging", "web", "kafka", "monitoring"] as const;
export type Role = (typeof ROLES)[number];

export type PerRole<T> = Record<Role, T>;

export const perRole = <T>(make: (role: Role) => T): PerRole<T> =>
  Object.fromEntries(ROLES.map((role) => [role, make(role)])) as PerRole<T>;
