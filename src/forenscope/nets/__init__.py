"""torch.nn.Modules only: no I/O, no losses inside forward."""
