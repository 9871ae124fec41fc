"""Reports the owner reads and the model may call: what happened with a customer (``activity``),
the morning digest (``digest``), the pipeline (``pipeline``) and the monthly win/loss (``winloss``)."""
