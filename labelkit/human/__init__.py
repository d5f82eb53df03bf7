"""Human labels: labelled training rows ([data] human_labels) and `labelkit label-next`, the picker
of which rows to label next."""
