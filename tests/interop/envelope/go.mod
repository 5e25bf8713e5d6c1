module p3ke.example/p3ke-envelope

go 1.25.0
