// Holds its instance for a second, so the benchmark can count the memory of many at once.
export default async function handler(req, res) {
  await new Promise((resolve) => setTimeout(resolve, 1000));
  res.send('slow\n');
}
