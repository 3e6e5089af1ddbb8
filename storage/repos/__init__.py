"""One repository per aggregate; storage.uow.UnitOfWork holds one of each over a session."""
