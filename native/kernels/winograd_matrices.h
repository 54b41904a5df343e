// Winograd/Toom-Cook matrices of F(2,3) and F(4,3) for correlation (PyTorch's "convolution"):
// y = A^T [(G g) .* (B^T d)], applied along each dimension for the 2-D F(m x m, 3 x 3).
// Data only (namespace-scope constexpr has internal linkage), so every ISA file may include it.
//
// F(4,3) interpolates at 0, 1, -1, 1/2, -2 and infinity (columns of A^T in that order). Measured
// on random shapes with wide zero padding (outputs that see few taps, so S is small next to their
// tile's data) the worst error / S was 2.96e-5 with these points against 1.43e-4 with Lavin's
// 0, +-1, +-2 (which fails the 1e-4 budget); a float32 simulation of single tiles agrees (about
// 2x lower worst error), while +-1/2 alone was worse than +-2. Mixing one point below 1 with one
// above keeps the largest factors of B^T, G and A^T all moderate.
#pragma once

namespace fastconv {

constexpr float kWinoBT2[4][4] = {
    {1, 0, -1, 0},
    {0, 1, 1, 0},
    {0, -1, 1, 0},
    {0, 1, 0, -1},
};
constexpr float kWinoG2[4][3] = {
    {1, 0, 0},
    {0.5f, 0.5f, 0.5f},
    {0.5f, -0.5f, 0.5f},
    {0, 0, 1},
};
constexpr float kWinoAT2[2][4] = {
    {1, 1, 1, 0},
    {0, 1, -1, -1},
};

constexpr float kWinoBT4[6][6] = {
    {1, -1.5f, -2, 1.5f, 1, 0}, {0, -1, 0.5f, 2.5f, 1, 0},  {0, 1, -2.5f, 0.5f, 1, 0},
    {0, -2, -1, 2, 1, 0},       {0, 0.5f, -1, -0.5f, 1, 0}, {0, 1, -1.5f, -2, 1.5f, 1},
};
constexpr float kWinoG4[6][3] = {
    {1, 0, 0},
    {1.0f / 3, 1.0f / 3, 1.0f / 3},
    {-1.0f / 3, 1.0f / 3, -1.0f / 3},
    {-16.0f / 15, -8.0f / 15, -4.0f / 15},
    {1.0f / 15, -2.0f / 15, 4.0f / 15},
    {0, 0, 1},
};
constexpr float kWinoAT4[4][6] = {
    {1, 1, 1, 1, 1, 0},
    {0, 1, -1, 0.5f, -2, 0},
    {0, 1, 1, 0.25f, 4, 0},
    {0, 1, -1, 0.125f, -8, 1},
};

}  // namespace fastconv
