"""Layer 5, experiments that train or probe twin models: training runs, the zero_init_residual
twins, the degradation study, and runs a whole class shares."""
