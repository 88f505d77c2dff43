"""The canteen view: meals, people and subsidy per month and age band, and attendance counts."""
