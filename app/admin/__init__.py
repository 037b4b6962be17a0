"""The HTTP interface of the reference data — administrative units and criteria sets: reads for
every client, writes for administrators (and a province for its own criteria sets). It sits above
``auth`` so that ``units`` and ``criteria`` stay below it and import no access control."""
