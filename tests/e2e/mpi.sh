# mpi.sh: `mpirun -np 2 kepler fit` (placeholder until the MPI test lands).
echo "SKIP: kepler was not configured with --with-mpi"
exit 77
