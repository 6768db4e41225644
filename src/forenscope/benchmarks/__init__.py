"""Benchmark protocols that train and evaluate (``forenscope benchmark``): the YAML protocols in
``forenscope/protocols``, leave-generator-out and leave-family-out hold-outs. The one layer that
uses both ``train`` and ``evaluate``; neither imports it."""
