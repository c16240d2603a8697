// Vite imports a file as text with `?raw` (test/admin-increments.test.ts reads the Workers' configurations).
declare module "*?raw" {
  const text: string;
  export default text;
}
