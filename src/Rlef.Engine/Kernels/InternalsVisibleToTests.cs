using System.Runtime.CompilerServices;

// The GEMM tests switch the micro-kernel (AVX2 vs AVX-512) and the cache blocking to cover every code path.
[assembly: InternalsVisibleTo("Rlef.Engine.Tests")]
